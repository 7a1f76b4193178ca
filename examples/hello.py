# Greets whoever the input names: faasctl run examples/hello.py -d '{"name":"Ada"}'
name = inputData.get("name", "world")
log(f"greeting {name}")
return {"greeting": f"Hello, {name}!"}
