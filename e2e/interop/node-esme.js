// An ESME built on node-smpp (https://github.com/farhadi/node-smpp), an SMPP implementation
// this project did not write, for the interoperability tests (e2e/tests/interop.rs).
//
// Usage: node node-esme.js --port PORT --system-id ID --password PW
//
// Binds as a transceiver to 127.0.0.1:PORT, then sends in turn: submit_sm in the GSM alphabet
// and in UCS-2 (node-smpp picks the data_coding), data_sm with message_payload, a third
// submit_sm without a receipt, submit_multi to two numbers, query_sm of the first message,
// cancel_sm of the third, and enquire_link; waits for a receipt for the first two submit_sm
// and the data_sm, unbinds, and prints a JSON summary.
'use strict';
const smpp = require('smpp');

const { arg } = require('./cli');
const port = Number(arg('--port'));
const timeoutMs = Number(arg('--timeout-ms') || 20000);
const summary = { responses: {}, receipts: [] };
const fail = (why) => {
  process.stderr.write(`node-esme: ${why}\n${JSON.stringify(summary)}\n`);
  process.exit(1);
};
setTimeout(() => fail('timed out'), timeoutMs).unref();

const session = smpp.connect({ url: `smpp://127.0.0.1:${port}`, auto_enquire_link_period: 0 });
session.on('error', (e) => fail(String(e)));
const call = (command, fields) => new Promise((resolve) => {
  session[command](fields, (pdu) => {
    const r = { command_status: pdu.command_status };
    if (pdu.message_id !== undefined) r.message_id = pdu.message_id;
    if (pdu.message_state !== undefined) r.message_state = pdu.message_state;
    (summary.responses[command] = summary.responses[command] || []).push(r);
    resolve(pdu);
  });
});

let wanted = 0;
let receiptsDone;
const allReceipts = new Promise((resolve) => { receiptsDone = resolve; });
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const sm = pdu.short_message;
  summary.receipts.push({
    esm_class: pdu.esm_class,
    receipted_message_id: pdu.receipted_message_id,
    message_state: pdu.message_state,
    text: sm && sm.message !== undefined ? String(sm.message) : null,
  });
  if (summary.receipts.length >= wanted) receiptsDone();
});

(async () => {
  const bind = await call('bind_transceiver', { system_id: arg('--system-id'), password: arg('--password') });
  if (bind.command_status !== 0) fail(`bind refused: ${bind.command_status}`);
  const address = { source_addr_ton: 5, source_addr: 'NodeEsme', dest_addr_ton: 1, dest_addr_npi: 1 };
  const gsm = await call('submit_sm', { ...address, destination_addr: '233241234567', short_message: 'Hello from node-smpp', registered_delivery: 1 });
  await call('submit_sm', { ...address, destination_addr: '233241234568', short_message: 'Ɛte sɛn? ₵5', registered_delivery: 1 });
  await call('data_sm', { ...address, destination_addr: '233241234569', message_payload: 'A data_sm with its text in message_payload', registered_delivery: 1 });
  wanted = 3;
  const spare = await call('submit_sm', { ...address, destination_addr: '233241234572', short_message: 'To be cancelled' });
  await call('submit_multi', {
    source_addr_ton: 5, source_addr: 'NodeEsme',
    dest_address: [
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '233241234570' },
      { dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '233241234571' },
    ],
    short_message: 'To two numbers',
  });
  await call('query_sm', { message_id: gsm.message_id, source_addr_ton: 5, source_addr: 'NodeEsme' });
  await call('cancel_sm', { message_id: spare.message_id, source_addr_ton: 5, source_addr: 'NodeEsme' });
  await call('enquire_link', {});
  if (summary.receipts.length < wanted) await allReceipts;
  await call('unbind', {});
  session.close();
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(0);
})().catch((e) => fail(String(e)));
