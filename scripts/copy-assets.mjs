#!/usr/bin/env node
// tsc emits JavaScript only; the SQL migrations travel beside the compiled migrate.js.
import { cpSync } from 'node:fs';

cpSync('src/host/db/migrations', 'dist/host/db/migrations', { recursive: true });
