# An AWS Lambda handler in Python: faasctl run examples/lambda_handler.py -d '{"items": [3, 4]}'
def lambda_handler(event, context):
    log(f"{context.function_name}: {len(event.get('items', []))} items")
    return {"total": sum(event.get("items", [])), "request_id_length": len(context.aws_request_id)}
