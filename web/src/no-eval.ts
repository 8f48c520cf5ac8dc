/**
 * Imported first by main.tsx. zod compiles its object parsers with `new Function` when it can,
 * and tries once to find out; the page's CSP allows no eval and, with Trusted Types, reports
 * even the try. Parsing without it is zod's own `jitless` mode.
 */
import { z } from 'zod';

z.config({ jitless: true });
