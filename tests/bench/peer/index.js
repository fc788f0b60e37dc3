// The peer of `make bench`: the official sgID Express example for the demo
// SPA (opengovsg/sgid-client, examples/express/index.ts at v2.2.0, the
// version SGID-PROTOCOL.md section 9.2 describes), written out as plain
// JavaScript so it runs with `node` and no TypeScript toolchain. The npm
// package ships only dist/, not the example, so this follows the example's
// logic step by step: in-memory sessions keyed by crypto.randomUUID() in the
// exampleAppSession cookie ({httpOnly: true}), CORS for the frontend with
// credentials, the same four endpoints and the same SDK calls.
//
// Differences from the example, all needed to run it here and none on the
// request path: the port comes from PORT (the example hard-codes 5001; the
// bench runs one process per core), and SGID_HOSTNAME points the SDK at the
// local sgID stand-in (the example uses the SDK's default, api.id.gov.sg).
'use strict';

const crypto = require('node:crypto');
const express = require('express');
const cors = require('cors');
const cookieParser = require('cookie-parser');
const dotenv = require('dotenv');
const { SgidClient, generatePkcePair } = require('@opengovsg/sgid-client');

dotenv.config();

const PORT = Number(process.env.PORT || 5001);
const frontendHost = process.env.SGID_FRONTEND_HOST ?? 'http://localhost:5173';

const sgid = new SgidClient({
  clientId: String(process.env.SGID_CLIENT_ID),
  clientSecret: String(process.env.SGID_CLIENT_SECRET),
  privateKey: String(process.env.SGID_PRIVATE_KEY),
  redirectUri: process.env.SGID_REDIRECT_URI ?? `http://localhost:${PORT}/api/redirect`,
  hostname: process.env.SGID_HOSTNAME,
});

const app = express();
const apiRouter = express.Router();

const SESSION_COOKIE_NAME = 'exampleAppSession';
const SESSION_COOKIE_OPTIONS = { httpOnly: true };

// In-memory store for session data, as in the example ("in a real
// application, this would be a database").
const sessionData = {};

app.use(cors({ credentials: true, origin: frontendHost }));

apiRouter.get('/auth-url', (req, res) => {
  const iceCreamSelection = String(req.query.icecream);
  const sessionId = crypto.randomUUID();
  // The ice cream choice travels in the state, as search params.
  const state = new URLSearchParams({ icecream: iceCreamSelection });
  const { codeChallenge, codeVerifier } = generatePkcePair();
  const { url, nonce } = sgid.authorizationUrl({
    state: state.toString(),
    codeChallenge,
    // Scopes that all sgID relying parties can access by default
    scope: ['openid', 'myinfo.name'],
  });
  sessionData[sessionId] = { state, nonce, codeVerifier };
  return res.cookie(SESSION_COOKIE_NAME, sessionId, SESSION_COOKIE_OPTIONS).json({ url });
});

apiRouter.get('/redirect', async (req, res) => {
  const authCode = String(req.query.code);
  const state = String(req.query.state);
  const sessionId = String(req.cookies[SESSION_COOKIE_NAME]);

  const session = { ...sessionData[sessionId] };
  // The state must match what was sent to sgID for this session.
  if (session.state?.toString() !== state) {
    res.redirect(`${frontendHost}/error`);
    return;
  }
  if (session.codeVerifier === undefined) {
    res.redirect(`${frontendHost}/error`);
    return;
  }
  // Exchange the code and the code verifier for the access token.
  const { accessToken, sub } = await sgid.callback({
    code: authCode,
    nonce: session.nonce,
    codeVerifier: session.codeVerifier,
  });
  session.accessToken = accessToken;
  session.sub = sub;
  sessionData[sessionId] = session;
  res.redirect(`${frontendHost}/logged-in`);
});

apiRouter.get('/userinfo', async (req, res) => {
  const sessionId = String(req.cookies[SESSION_COOKIE_NAME]);
  const session = sessionData[sessionId];
  const accessToken = session?.accessToken;
  const sub = session?.sub;
  // User is not authenticated
  if (session === undefined || accessToken === undefined || sub === undefined) {
    return res.sendStatus(401);
  }
  const userinfo = await sgid.userinfo({ accessToken, sub });
  // Add the ice cream flavour to the user info
  userinfo.data.iceCream = session.state.get('icecream') ?? 'None';
  return res.json(userinfo);
});

apiRouter.get('/logout', async (req, res) => {
  const sessionId = String(req.cookies[SESSION_COOKIE_NAME]);
  delete sessionData[sessionId];
  return res.clearCookie(SESSION_COOKIE_NAME, SESSION_COOKIE_OPTIONS).sendStatus(200);
});

app.use(cookieParser());
app.use('/api', apiRouter);

app.listen(PORT, '127.0.0.1', () => {
  console.log(`Server listening on port ${PORT}`);
});
