// An SMSC built on node-smpp (https://github.com/farhadi/node-smpp), an SMPP implementation
// this project did not write, for the interoperability tests (e2e/tests/interop.rs).
//
// Usage: node node-smsc.js --port PORT --system-id ID --password PW [--refuse-transceiver]
//          [--enquire-link-ms N] [--mo TEXT] [--unbind-after-ms N]
//          [--tls-dir DIR [--require-client-cert]]
//
// Accepts binds with the given credentials (with --refuse-transceiver, bind_transceiver is
// answered ESME_RINVCMDID, as an SMSC without transceiver support does), answers submit_sm
// with a hexadecimal message_id and, when a receipt is requested, sends a delivery receipt
// deliver_sm on a receiving session. On the first receiving session it can also send
// enquire_link every N ms, a mobile-originated deliver_sm with TEXT, and an unbind after N ms.
// With --tls-dir it speaks SMPP over TLS with DIR/server.pem and DIR/server.key (from
// make-certs.sh), and with --require-client-cert it accepts only clients whose certificate
// DIR/ca.pem signed.
// Prints one JSON object per line on stdout for every event, with the fields as node-smpp
// decoded them.
'use strict';
const smpp = require('smpp');

const { arg, flag } = require('./cli');
const port = Number(arg('--port'));
const systemId = arg('--system-id');
const password = arg('--password');
const refuseTransceiver = flag('--refuse-transceiver');
const enquireLinkMs = Number(arg('--enquire-link-ms') || 0);
const moText = arg('--mo');
const unbindAfterMs = Number(arg('--unbind-after-ms') || 0);
const tlsDir = arg('--tls-dir');
const requireClientCert = flag('--require-client-cert');
let unbindSent = false;
if (!port || !systemId || password === undefined) {
  process.stderr.write('usage: node-smsc.js --port PORT --system-id ID --password PW [--refuse-transceiver]\n');
  process.exit(2);
}

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const hex = (b) => (b ? Buffer.from(b).toString('hex') : null);
const receivers = new Set();
let nextId = 0x5a000;

function text(field) {
  if (field === undefined || field === null) return null;
  if (typeof field === 'string') return field;
  if (Buffer.isBuffer(field)) return field.toString('hex');
  return field.message === undefined ? null : String(field.message);
}

// The SMSC's own requests on a receiving session.
function smscInitiated(session) {
  if (enquireLinkMs > 0) {
    const timer = setInterval(() => {
      session.enquire_link({}, (resp) => out({ event: 'enquire_link_resp', command_status: resp.command_status }));
    }, enquireLinkMs);
    session.on('close', () => clearInterval(timer));
  }
  if (moText !== undefined) {
    session.deliver_sm({
      source_addr: '233241234567',
      destination_addr: 'GHASI',
      esm_class: 0,
      short_message: moText,
    }, (resp) => out({ event: 'mo_resp', command_status: resp.command_status }));
  }
  if (unbindAfterMs > 0 && !unbindSent) {
    unbindSent = true;
    setTimeout(() => {
      session.unbind({}, (resp) => {
        out({ event: 'unbind_resp', command_status: resp.command_status });
        session.close();
      });
    }, unbindAfterMs);
  }
}

function serverOptions() {
  if (!tlsDir) return {};
  const fs = require('fs');
  const file = (name) => fs.readFileSync(`${tlsDir}/${name}`);
  const options = { key: file('server.key'), cert: file('server.pem') };
  if (requireClientCert) {
    Object.assign(options, { ca: file('ca.pem'), requestCert: true, rejectUnauthorized: true });
  }
  return options;
}

const server = smpp.createServer(serverOptions(), (session) => {
  if (tlsDir) {
    const peer = session.socket.getPeerCertificate();
    out({ event: 'tls', protocol: session.socket.getProtocol(), client_cn: peer && peer.subject ? peer.subject.CN : null });
  }
  session.on('error', (e) => out({ event: 'error', message: String(e) }));
  session.on('close', () => receivers.delete(session));
  for (const command of ['bind_transceiver', 'bind_transmitter', 'bind_receiver']) {
    session.on(command, (pdu) => {
      if (command === 'bind_transceiver' && refuseTransceiver) {
        session.send(pdu.response({ command_status: smpp.ESME_RINVCMDID }));
        out({ event: 'bind', command, ok: false, refused: true });
        return;
      }
      const ok = pdu.system_id === systemId && pdu.password === password;
      session.send(pdu.response({
        system_id: 'nodesmsc',
        command_status: ok ? smpp.ESME_ROK : smpp.ESME_RBINDFAIL,
      }));
      out({ event: 'bind', command, ok, system_id: pdu.system_id, interface_version: pdu.interface_version });
      if (ok && command !== 'bind_transmitter') {
        receivers.add(session);
        smscInitiated(session);
      }
    });
  }
  session.on('submit_sm', (pdu) => {
    const id = (nextId++).toString(16).toUpperCase();
    session.send(pdu.response({ message_id: id }));
    const sm = pdu.short_message;
    out({
      event: 'submit',
      message_id: id,
      source_addr: pdu.source_addr,
      source_addr_ton: pdu.source_addr_ton,
      destination_addr: pdu.destination_addr,
      dest_addr_ton: pdu.dest_addr_ton,
      data_coding: pdu.data_coding,
      esm_class: pdu.esm_class,
      registered_delivery: pdu.registered_delivery,
      text: text(sm),
      udh: sm && sm.udh ? sm.udh.map(hex) : [],
      payload: text(pdu.message_payload),
      sar: pdu.sar_msg_ref_num === undefined ? null
        : [pdu.sar_msg_ref_num, pdu.sar_total_segments, pdu.sar_segment_seqnum],
    });
    if ((pdu.registered_delivery & 0x03) === 0) return;
    const receiver = [...receivers][0];
    if (!receiver) {
      out({ event: 'error', message: 'no receiving session for a receipt' });
      return;
    }
    receiver.deliver_sm({
      source_addr: pdu.destination_addr,
      destination_addr: pdu.source_addr,
      esm_class: smpp.ESM_CLASS.MC_DELIVERY_RECEIPT,
      short_message: `id:${id} sub:001 dlvrd:001 submit date:2611261200 done date:2611261201 stat:DELIVRD err:000 text:`,
      receipted_message_id: id,
      message_state: smpp.MESSAGE_STATE.DELIVERED,
    }, (resp) => out({ event: 'deliver_sm_resp', message_id: id, command_status: resp.command_status }));
  });
  session.on('enquire_link', (pdu) => {
    session.send(pdu.response());
    out({ event: 'enquire_link' });
  });
  session.on('unbind', (pdu) => {
    session.send(pdu.response());
    out({ event: 'unbind' });
    session.close();
  });
});
server.on('tlsClientError', (e) => out({ event: 'tls_error', message: String(e) }));
server.listen(port, '127.0.0.1', () => out({ event: 'listening', port }));
