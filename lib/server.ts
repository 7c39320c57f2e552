#!/usr/bin/env node
// The command's old path, kept so that `node dist/server.js` keeps starting holdpush: the CLI is lib/cli/main.ts.
import './cli/main';
