// An AWS Lambda handler, as `sam local invoke` runs it: faasctl run examples/handler.js -d '{"name": "Ada"}'
exports.handler = async (event, context) => {
  console.log(`${context.functionName} called with ${JSON.stringify(event)}`);
  return { greeting: `Hello, ${event.name || 'world'}!`, memoryLimitInMB: context.memoryLimitInMB };
};

// Another entry point of the same file: faasctl run examples/handler.js --handler shout -d '{"name": "Ada"}'
exports.shout = (event, context, callback) => callback(null, `HELLO, ${String(event.name).toUpperCase()}!`);
