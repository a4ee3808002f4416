// The fake OpenAI-compatible server in its own process, so its work does not
// share an event loop with the load generator. Prints its port, then serves.
import { startFakeLlm } from '@workemon/testkit';

const llm = await startFakeLlm({ delayMs: Number(process.env.FAKE_LLM_DELAY_MS ?? 0) });
process.stdout.write(`${JSON.stringify({ port: llm.port, url: llm.url })}\n`);
process.on('message', (msg) => {
  if (msg && typeof msg === 'object' && 'delayMs' in msg) llm.setDelay(Number(msg.delayMs));
});
process.on('SIGTERM', () => void llm.close().then(() => process.exit(0)));
