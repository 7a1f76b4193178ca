// xina-queue-demo-a: the first task of the XINA queue demo, written for AWS Lambda (Node.js, aws-sdk v2).
// It queues a `schema` action, then a `run` of the task `queue_demo_b` as its child, passing the queue id
// under which the schema result will be stored. It is run with `open: true`, so it stays open until
// queue_demo_b concludes it.
const AWS = require('aws-sdk');
const lambda = new AWS.Lambda();

async function queue(event, action) {
  const response = await lambda.invoke({
    FunctionName: 'xina-queue',
    InvocationType: 'RequestResponse',
    Payload: JSON.stringify({
      action: action,
      task_id: event.task_id,
      parent_id: event.parent_id,
      bucket: event.bucket,
      queue: event.queue,
    }),
  }).promise();
  if (response.FunctionError) {
    throw new Error(`xina-queue refused the ${action.action} action: ${response.Payload}`);
  }
  return JSON.parse(response.Payload).queue_id;
}

exports.handler = async (event, context) => {
  console.log(`queue_demo task ${event.task_id} started (${context.functionName})`);
  const schemaQueueId = await queue(event, { action: 'schema' });
  console.log(`schema action queued as ${schemaQueueId}`);
  const runQueueId = await queue(event, {
    action: 'run',
    tasks: [{
      name: 'queue_demo_b',
      conf: { schema_queue_id: schemaQueueId, database: event.conf.database },
      parent: event.task_id,
    }],
  });
  console.log(`run of queue_demo_b queued as ${runQueueId}`);
  return { schema_queue_id: schemaQueueId, run_queue_id: runQueueId };
};
