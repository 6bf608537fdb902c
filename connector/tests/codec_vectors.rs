//! Byte-exact vectors for every SMPP 3.4 PDU, written by hand from the field layouts of
//! the specification (section 4). Each vector is decoded and compared with the expected
//! value, and the expected value is encoded and compared with the bytes.

use bytes::{Bytes, BytesMut};
use connector::protocol::codec::{
    Address, AlertNotification, Bind, BindResp, Body, COctetString, CancelSm, CommandStatus,
    DataSm, DestAddress, MessageIdResp, MessageState, NetworkErrorCode, Outbind, Pdu, QuerySm,
    QuerySmResp, RawTlv, ReplaceSm, SmppCodec, SubmitMulti, SubmitMultiResp, SubmitSm, Tlv, Tlvs,
    UnsuccessSme,
};
use tokio_util::codec::{Decoder, Encoder};

/// Parses hex octets, ignoring whitespace and `//` comments.
fn hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .flat_map(|line| line.chars().filter(|c| !c.is_whitespace()))
        .collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn c<const N: usize>(s: &str) -> COctetString<N> {
    COctetString::try_from(s).unwrap()
}

fn addr<const N: usize>(ton: u8, npi: u8, s: &str) -> Address<N> {
    Address::new(ton, npi, c(s))
}

fn check(wire: &str, expected: Pdu) {
    let wire = hex(wire);
    let len = u32::from_be_bytes(wire[..4].try_into().unwrap()) as usize;
    assert_eq!(len, wire.len(), "command_length of the vector");

    let mut codec = SmppCodec::default();
    let mut buf = BytesMut::from(&wire[..]);
    let decoded = codec.decode(&mut buf).unwrap().unwrap().unwrap();
    assert_eq!(decoded, expected);
    assert!(buf.is_empty());

    let mut out = BytesMut::new();
    codec.encode(&expected, &mut out).unwrap();
    assert_eq!(&out[..], &wire[..], "encoding of {expected:?}");
    assert_eq!(expected.encoded_len().unwrap(), wire.len());
}

#[test]
fn bind_transmitter() {
    check(
        "0000002F 00000002 00000000 00000001
         534D50503354455354 00   // system_id SMPP3TEST
         7365637265743038 00     // password secret08
         5355424D495431 00       // system_type SUBMIT1
         34                      // interface_version
         01 01                   // addr_ton, addr_npi
         00                      // address_range",
        Pdu::new(
            1,
            Body::BindTransmitter(Bind {
                system_id: c("SMPP3TEST"),
                password: c("secret08"),
                system_type: c("SUBMIT1"),
                interface_version: 0x34,
                address_range: addr(1, 1, ""),
            }),
        ),
    );
}

#[test]
fn bind_transmitter_resp_with_sc_interface_version() {
    check(
        "0000001A 80000002 00000000 00000001
         534D5343 00             // system_id SMSC
         0210 0001 34            // sc_interface_version 3.4",
        Pdu::new(
            1,
            Body::BindTransmitterResp(BindResp {
                system_id: c("SMSC"),
                tlvs: Tlvs::new().with(Tlv::ScInterfaceVersion(0x34)),
            }),
        ),
    );
}

#[test]
fn bind_receiver() {
    check(
        "00000022 00000001 00000000 00000002
         65736D65 00             // system_id esme
         7077 00                 // password pw
         00                      // system_type
         34                      // interface_version
         00 00                   // addr_ton, addr_npi
         5E31323334 00           // address_range ^1234",
        Pdu::new(
            2,
            Body::BindReceiver(Bind {
                system_id: c("esme"),
                password: c("pw"),
                system_type: c(""),
                interface_version: 0x34,
                address_range: addr(0, 0, "^1234"),
            }),
        ),
    );
}

#[test]
fn bind_receiver_resp_error_is_header_only() {
    check(
        "00000010 80000001 0000000E 00000002",
        Pdu::with_status(
            2,
            CommandStatus::ESME_RINVPASWD,
            Body::BindReceiverResp(BindResp::default()),
        ),
    );
}

#[test]
fn bind_transceiver() {
    check(
        "00000021 00000009 00000000 00000003
         747278 00               // system_id trx
         70773132 00             // password pw12
         564D41 00               // system_type VMA
         34 01 01 00             // interface_version, addr_ton, addr_npi, address_range",
        Pdu::new(
            3,
            Body::BindTransceiver(Bind {
                system_id: c("trx"),
                password: c("pw12"),
                system_type: c("VMA"),
                interface_version: 0x34,
                address_range: addr(1, 1, ""),
            }),
        ),
    );
}

#[test]
fn bind_transceiver_resp() {
    check(
        "00000017 80000009 00000000 00000003
         534D53433031 00         // system_id SMSC01",
        Pdu::new(
            3,
            Body::BindTransceiverResp(BindResp {
                system_id: c("SMSC01"),
                tlvs: Tlvs::new(),
            }),
        ),
    );
}

#[test]
fn outbind() {
    check(
        "00000018 0000000B 00000000 00000004
         736D7363 00             // system_id smsc
         7077 00                 // password pw",
        Pdu::new(
            4,
            Outbind {
                system_id: c("smsc"),
                password: c("pw"),
            },
        ),
    );
}

#[test]
fn unbind_and_resp() {
    check(
        "00000010 00000006 00000000 00000005",
        Pdu::new(5, Body::Unbind),
    );
    check(
        "00000010 80000006 00000000 00000005",
        Pdu::new(5, Body::UnbindResp),
    );
}

#[test]
fn generic_nack() {
    check(
        "00000010 80000000 00000003 00000007",
        Pdu::generic_nack(7, CommandStatus::ESME_RINVCMDID),
    );
}

#[test]
fn submit_sm_with_typed_and_vendor_tlvs() {
    check(
        "00000043 00000004 00000000 0000000A
         00                      // service_type
         05 00 41636D65 00       // source_addr_ton 5, npi 0, source_addr Acme
         01 01 343437373030393030313233 00 // dest ton 1, npi 1, 447700900123
         00 00 00                // esm_class, protocol_id, priority_flag
         00 00                   // schedule_delivery_time, validity_period
         01 00 00 00             // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
         05 48656C6C6F           // sm_length 5, short_message Hello
         0204 0002 002A          // user_message_reference 42
         1400 0003 616263        // vendor tag 0x1400",
        Pdu::new(
            10,
            Body::SubmitSm(SubmitSm {
                source: addr(5, 0, "Acme"),
                dest: addr(1, 1, "447700900123"),
                registered_delivery: 1,
                short_message: Bytes::from_static(b"Hello"),
                tlvs: Tlvs::new()
                    .with(Tlv::UserMessageReference(42))
                    .with(Tlv::Other(RawTlv {
                        tag: 0x1400,
                        value: Bytes::from_static(b"abc"),
                    })),
                ..SubmitSm::default()
            }),
        ),
    );
}

#[test]
fn submit_sm_resp() {
    check(
        "00000017 80000004 00000000 0000000A
         346132663062 00         // message_id 4a2f0b",
        Pdu::new(10, Body::SubmitSmResp(MessageIdResp::new(c("4a2f0b")))),
    );
}

#[test]
fn submit_sm_resp_error_is_header_only() {
    check(
        "00000010 80000004 00000058 0000000B",
        Pdu::with_status(
            11,
            CommandStatus::ESME_RTHROTTLED,
            Body::SubmitSmResp(MessageIdResp::default()),
        ),
    );
}

#[test]
fn submit_multi() {
    check(
        "00000044 00000021 00000000 0000000C
         00                      // service_type
         01 01 34343730303030303030 00 // source 4470000000
         02                      // number_of_dests
         01 01 01 343437373030393030303031 00 // dest_flag 1 (SME), ton, npi, 447700900001
         02 667269656E6473 00    // dest_flag 2 (distribution list) friends
         00 00 00                // esm_class, protocol_id, priority_flag
         00 00                   // schedule_delivery_time, validity_period
         00 00 00 00             // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
         02 4869                 // sm_length 2, Hi",
        Pdu::new(
            12,
            SubmitMulti {
                source: addr(1, 1, "4470000000"),
                dests: vec![
                    DestAddress::Sme(addr(1, 1, "447700900001")),
                    DestAddress::DistributionList(c("friends")),
                ],
                short_message: Bytes::from_static(b"Hi"),
                ..SubmitMulti::default()
            },
        ),
    );
}

#[test]
fn submit_multi_resp() {
    check(
        "00000027 80000021 00000000 0000000C
         6D31 00                 // message_id m1
         01                      // no_unsuccess
         01 01 343437373030393030303031 00 // ton, npi, 447700900001
         0000000B                // error_status_code ESME_RINVDSTADR",
        Pdu::new(
            12,
            SubmitMultiResp {
                message_id: c("m1"),
                unsuccess_smes: vec![UnsuccessSme {
                    dest: addr(1, 1, "447700900001"),
                    error_status_code: CommandStatus::ESME_RINVDSTADR,
                }],
                tlvs: Tlvs::new(),
            },
        ),
    );
}

#[test]
fn deliver_sm_receipt() {
    check(
        "0000005E 00000005 00000000 00000064
         00                      // service_type
         01 01 343437373030393030313233 00 // source 447700900123
         05 00 41636D65 00       // dest Acme
         04 00 00                // esm_class delivery receipt, protocol_id, priority_flag
         00 00                   // schedule_delivery_time, validity_period
         00 00 00 00             // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
         16 69643A34613266306220737461743A44454C49565244 // 22: id:4a2f0b stat:DELIVRD
         001E 0007 346132663062 00 // receipted_message_id 4a2f0b
         0427 0001 02            // message_state DELIVERED
         0423 0003 03 0000       // network_error_code GSM 0",
        Pdu::new(
            100,
            Body::DeliverSm(SubmitSm {
                source: addr(1, 1, "447700900123"),
                dest: addr(5, 0, "Acme"),
                esm_class: 0x04,
                short_message: Bytes::from_static(b"id:4a2f0b stat:DELIVRD"),
                tlvs: Tlvs::new()
                    .with(Tlv::ReceiptedMessageId(c("4a2f0b")))
                    .with(Tlv::MessageState(MessageState::DELIVERED))
                    .with(Tlv::NetworkErrorCode(NetworkErrorCode {
                        network_type: 3,
                        error_code: 0,
                    })),
                ..SubmitSm::default()
            }),
        ),
    );
}

#[test]
fn deliver_sm_resp() {
    check(
        "00000011 80000005 00000000 00000064
         00                      // message_id (unused)",
        Pdu::new(100, Body::DeliverSmResp(MessageIdResp::default())),
    );
}

#[test]
fn data_sm() {
    check(
        "00000046 00000103 00000000 00000065
         00                      // service_type
         01 01 343437373030393030313233 00 // source 447700900123
         01 01 343437373030393030343536 00 // dest 447700900456
         00 01 04                // esm_class, registered_delivery, data_coding 8-bit
         0424 0004 DEADBEEF      // message_payload
         020A 0002 23F0          // source_port 9200
         020B 0002 0B84          // destination_port 2948",
        Pdu::new(
            101,
            DataSm {
                service_type: c(""),
                source: addr(1, 1, "447700900123"),
                dest: addr(1, 1, "447700900456"),
                esm_class: 0,
                registered_delivery: 1,
                data_coding: 4,
                tlvs: Tlvs::new()
                    .with(Tlv::MessagePayload(Bytes::from_static(&[
                        0xDE, 0xAD, 0xBE, 0xEF,
                    ])))
                    .with(Tlv::SourcePort(9200))
                    .with(Tlv::DestinationPort(2948)),
            },
        ),
    );
}

#[test]
fn data_sm_resp_error_with_tlv() {
    check(
        "00000016 80000103 000000FE 00000065
         00                      // message_id
         0425 0001 01            // delivery_failure_reason: destination unavailable",
        Pdu::with_status(
            101,
            CommandStatus::ESME_RDELIVERYFAILURE,
            Body::DataSmResp(MessageIdResp {
                message_id: c(""),
                tlvs: Tlvs::new().with(Tlv::DeliveryFailureReason(1)),
            }),
        ),
    );
}

#[test]
fn query_sm() {
    check(
        "00000025 00000003 00000000 00000066
         3132333435 00           // message_id 12345
         01 01 343437373030393030313233 00 // source 447700900123",
        Pdu::new(
            102,
            QuerySm {
                message_id: c("12345"),
                source: addr(1, 1, "447700900123"),
            },
        ),
    );
}

#[test]
fn query_sm_resp() {
    check(
        "00000029 80000003 00000000 00000066
         3132333435 00           // message_id 12345
         3235313132363130333030303030302B 00 // final_date 251126103000000+
         02 00                   // message_state DELIVERED, error_code",
        Pdu::new(
            102,
            QuerySmResp {
                message_id: c("12345"),
                final_date: c("251126103000000+"),
                message_state: MessageState::DELIVERED,
                error_code: 0,
            },
        ),
    );
}

#[test]
fn cancel_sm_and_resp() {
    check(
        "00000035 00000008 00000000 00000067
         00                      // service_type
         3132333435 00           // message_id 12345
         01 01 343437373030393030313233 00 // source 447700900123
         01 01 343437373030393030343536 00 // dest 447700900456",
        Pdu::new(
            103,
            CancelSm {
                service_type: c(""),
                message_id: c("12345"),
                source: addr(1, 1, "447700900123"),
                dest: addr(1, 1, "447700900456"),
            },
        ),
    );
    check(
        "00000010 80000008 00000000 00000067",
        Pdu::new(103, Body::CancelSmResp),
    );
}

#[test]
fn replace_sm_and_resp() {
    check(
        "0000003D 00000007 00000000 00000068
         3132333435 00           // message_id 12345
         01 01 343437373030393030313233 00 // source 447700900123
         00                      // schedule_delivery_time
         30303030303130303030303030303052 00 // validity_period 000001000000000R
         01 00                   // registered_delivery, sm_default_msg_id
         03 4E6577               // sm_length 3, New",
        Pdu::new(
            104,
            ReplaceSm {
                message_id: c("12345"),
                source: addr(1, 1, "447700900123"),
                schedule_delivery_time: c(""),
                validity_period: c("000001000000000R"),
                registered_delivery: 1,
                sm_default_msg_id: 0,
                short_message: Bytes::from_static(b"New"),
                tlvs: Tlvs::new(),
            },
        ),
    );
    check(
        "00000010 80000007 00000000 00000068",
        Pdu::new(104, Body::ReplaceSmResp),
    );
}

#[test]
fn enquire_link_and_resp() {
    check(
        "00000010 00000015 00000000 00000069",
        Pdu::new(105, Body::EnquireLink),
    );
    check(
        "00000010 80000015 00000000 00000069",
        Pdu::new(105, Body::EnquireLinkResp),
    );
}

#[test]
fn alert_notification() {
    check(
        "0000002B 00000102 00000000 0000006A
         01 01 343437373030393030313233 00 // source 447700900123
         05 00 41636D65 00       // esme_addr Acme
         0422 0001 00            // ms_availability_status available",
        Pdu::new(
            106,
            AlertNotification {
                source: addr(1, 1, "447700900123"),
                esme: addr(5, 0, "Acme"),
                tlvs: Tlvs::new().with(Tlv::MsAvailabilityStatus(0)),
            },
        ),
    );
}
