// xina-queue-demo-b: the chained task of the XINA queue demo, written for AWS Lambda (Node.js, aws-sdk v2).
// It reads the result of the `schema` action queued by its parent from S3 (queue/QUEUE_ID/out/content.json),
// queues a `post` to the database the schema names, then a `conclude` of its parent task.
const AWS = require('aws-sdk');
const lambda = new AWS.Lambda();
const s3 = new AWS.S3();

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
  const key = `queue/${event.conf.schema_queue_id}/out/content.json`;
  const object = await s3.getObject({ Bucket: event.bucket, Key: key }).promise();
  const schema = JSON.parse(object.Body.toString('utf-8'));
  const database = schema.databases.find((db) => db.name === event.conf.database);
  if (!database) throw new Error(`database ${event.conf.database} is not in the schema`);
  console.log(`queue_demo_b task ${event.task_id} (parent ${event.parent_id}): ` +
              `${database.name} has fields ${database.fields.join(', ')}`);
  const record = { t: 1700000000000, event: 'queue demo', source: context.functionName };
  await queue(event, { action: 'post', database: database.name, records: [record] });
  await queue(event, { action: 'conclude', task: event.parent_id });
  return { database: database.name, fields: database.fields.length };
};
