// The baseline: the same topology with bare express — an entry service that calls
// two others in sequence, each of which calls the LLM once. No validation, logging,
// metrics or database; connections kept alive like the real mesh.
import http from 'node:http';
import axios from 'axios';
import express from 'express';

const role = process.env.ROLE;
const port = Number(process.env.PORT);
const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
const client = axios.create({ httpAgent: agent, timeout: 30_000 });
const app = express();
app.use(express.json());

if (role === 'entry') {
  app.get('/analyze-request', async (req, res) => {
    const a = await client.post(`${process.env.B_URL}/work`, { request: req.query.request });
    const b = await client.post(`${process.env.C_URL}/work`, {
      request: req.query.request,
      context: a.data.response,
    });
    res.json({
      is_enough: true,
      request: req.query.request,
      action: 'ответить сообщением',
      question: '',
      response: b.data.response,
    });
  });
} else {
  app.post('/work', async (req, res) => {
    const r = await client.post(`${process.env.LLM_URL}/chat/completions`, {
      model: 'fake-model',
      messages: [{ role: 'user', content: String(req.body.request) }],
    });
    res.json({ is_enough: true, response: r.data.choices[0].message.content });
  });
}
app.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
