// The load generator's ceiling on this machine: the cheapest possible HTTP answer.
import http from 'node:http';
http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok'); })
  .listen(Number(process.env.PORT || 3999), '127.0.0.1');
