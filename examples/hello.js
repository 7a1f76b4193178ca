// Greets whoever the input names: faasctl run examples/hello.js -d '{"name":"Ada"}'
const name = $.name ?? "world";
log(`greeting ${name}`);
return { greeting: `Hello, ${name}!` };
