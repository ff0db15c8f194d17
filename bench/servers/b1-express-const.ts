/** B1: bare Express 5 answering constant JSON; the floor of any Express route on this machine. */
import { createServer } from 'node:http';
import express from 'express';
import { serve } from '../lib/child.js';

const app = express();
app.get('/v1/entitlements', (_req, res) => {
  res.json({ entitled: true, status: 'active' });
});
await serve(createServer(app));
