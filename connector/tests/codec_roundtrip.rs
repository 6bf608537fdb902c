//! Property tests: decode(encode(pdu)) == pdu over arbitrary PDUs and parameters, PDUs
//! split at arbitrary points, and arbitrary input never panicking the decoder.

use bytes::{Bytes, BytesMut};
use connector::protocol::codec::{
    Address, AlertNotification, Bind, BindResp, Body, COctetString, CancelSm, CommandStatus,
    DataSm, DestAddress, MessageIdResp, MessageState, NetworkErrorCode, Outbind, Pdu, QuerySm,
    QuerySmResp, RawTlv, ReplaceSm, SmppCodec, SubmitMulti, SubmitMultiResp, SubmitSm, Tlv, Tlvs,
    UnsuccessSme,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::Union;
use tokio_util::codec::{Decoder, Encoder};

fn cstr<const N: usize>() -> impl Strategy<Value = COctetString<N>> {
    vec(1u8..=255, 0..N).prop_map(|v| COctetString::new(v).unwrap())
}

fn octets(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

fn address<const N: usize>() -> impl Strategy<Value = Address<N>> {
    (any::<u8>(), any::<u8>(), cstr::<N>()).prop_map(|(ton, npi, addr)| Address { ton, npi, addr })
}

fn tlv() -> impl Strategy<Value = Tlv> {
    let u8s: Vec<fn(u8) -> Tlv> = vec![
        Tlv::DestAddrSubunit,
        Tlv::DestNetworkType,
        Tlv::DestBearerType,
        Tlv::SourceAddrSubunit,
        Tlv::SourceNetworkType,
        Tlv::SourceBearerType,
        Tlv::SourceTelematicsId,
        Tlv::PayloadType,
        Tlv::MsMsgWaitFacilities,
        Tlv::PrivacyIndicator,
        Tlv::UserResponseCode,
        Tlv::LanguageIndicator,
        Tlv::SarTotalSegments,
        Tlv::SarSegmentSeqnum,
        Tlv::ScInterfaceVersion,
        Tlv::CallbackNumPresInd,
        Tlv::NumberOfMessages,
        Tlv::DpfResult,
        Tlv::SetDpf,
        Tlv::MsAvailabilityStatus,
        Tlv::DeliveryFailureReason,
        Tlv::MoreMessagesToSend,
        Tlv::UssdServiceOp,
        Tlv::DisplayTime,
        Tlv::MsValidity,
        Tlv::ItsReplyType,
    ];
    let u16s: Vec<fn(u16) -> Tlv> = vec![
        Tlv::DestTelematicsId,
        Tlv::UserMessageReference,
        Tlv::SourcePort,
        Tlv::DestinationPort,
        Tlv::SarMsgRefNum,
        Tlv::SmsSignal,
        Tlv::ItsSessionInfo,
    ];
    // Octet-string parameters within their specified lengths (others decode raw).
    let bounded = |f: fn(Bytes) -> Tlv, min: usize, max: usize| {
        vec(any::<u8>(), min..=max).prop_map(move |v| f(Bytes::from(v)))
    };
    Union::new(vec![
        (proptest::sample::select(u8s), any::<u8>())
            .prop_map(|(f, v)| f(v))
            .boxed(),
        (proptest::sample::select(u16s), any::<u16>())
            .prop_map(|(f, v)| f(v))
            .boxed(),
        bounded(Tlv::SourceSubaddress, 2, 23).boxed(),
        bounded(Tlv::DestSubaddress, 2, 23).boxed(),
        bounded(Tlv::CallbackNumAtag, 0, 65).boxed(),
        bounded(Tlv::CallbackNum, 4, 19).boxed(),
        octets(300).prop_map(Tlv::MessagePayload).boxed(),
        any::<u32>().prop_map(Tlv::QosTimeToLive).boxed(),
        cstr::<256>()
            .prop_map(Tlv::AdditionalStatusInfoText)
            .boxed(),
        cstr::<65>().prop_map(Tlv::ReceiptedMessageId).boxed(),
        (any::<u8>(), any::<u16>())
            .prop_map(|(network_type, error_code)| {
                Tlv::NetworkErrorCode(NetworkErrorCode {
                    network_type,
                    error_code,
                })
            })
            .boxed(),
        any::<u8>()
            .prop_map(|v| Tlv::MessageState(MessageState(v)))
            .boxed(),
        Just(Tlv::AlertOnMessageDelivery(())).boxed(),
        // Vendor-specific range: no SMPP 3.4 tag lives there.
        (0x1400u16..=0x3FFF, octets(40))
            .prop_map(|(tag, value)| Tlv::Other(RawTlv { tag, value }))
            .boxed(),
    ])
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    vec(tlv(), 0..5).prop_map(Tlvs)
}

fn bind() -> impl Strategy<Value = Bind> {
    (cstr(), cstr(), cstr(), any::<u8>(), address()).prop_map(
        |(system_id, password, system_type, interface_version, address_range)| Bind {
            system_id,
            password,
            system_type,
            interface_version,
            address_range,
        },
    )
}

fn bind_resp() -> impl Strategy<Value = BindResp> {
    (cstr(), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs })
}

fn message_id_resp() -> impl Strategy<Value = MessageIdResp> {
    (cstr(), tlvs()).prop_map(|(message_id, tlvs)| MessageIdResp { message_id, tlvs })
}

fn submit_sm() -> impl Strategy<Value = SubmitSm> {
    (
        (cstr(), address(), address(), any::<[u8; 3]>()),
        (cstr(), cstr(), any::<[u8; 4]>(), octets(254), tlvs()),
    )
        .prop_map(
            |((service_type, source, dest, a), (sched, validity, b, short_message, tlvs))| {
                SubmitSm {
                    service_type,
                    source,
                    dest,
                    esm_class: a[0],
                    protocol_id: a[1],
                    priority_flag: a[2],
                    schedule_delivery_time: sched,
                    validity_period: validity,
                    registered_delivery: b[0],
                    replace_if_present_flag: b[1],
                    data_coding: b[2],
                    sm_default_msg_id: b[3],
                    short_message,
                    tlvs,
                }
            },
        )
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        address().prop_map(DestAddress::Sme),
        cstr().prop_map(DestAddress::DistributionList),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (submit_sm(), vec(dest_address(), 0..10)).prop_map(|(s, dests)| SubmitMulti {
        service_type: s.service_type,
        source: s.source,
        dests,
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

fn submit_multi_resp() -> impl Strategy<Value = SubmitMultiResp> {
    (
        cstr(),
        vec(
            (address(), any::<u32>()).prop_map(|(dest, s)| UnsuccessSme {
                dest,
                error_status_code: CommandStatus(s),
            }),
            0..10,
        ),
        tlvs(),
    )
        .prop_map(|(message_id, unsuccess_smes, tlvs)| SubmitMultiResp {
            message_id,
            unsuccess_smes,
            tlvs,
        })
}

fn data_sm() -> impl Strategy<Value = DataSm> {
    (cstr(), address(), address(), any::<[u8; 3]>(), tlvs()).prop_map(
        |(service_type, source, dest, b, tlvs)| DataSm {
            service_type,
            source,
            dest,
            esm_class: b[0],
            registered_delivery: b[1],
            data_coding: b[2],
            tlvs,
        },
    )
}

fn body() -> impl Strategy<Value = Body> {
    Union::new(vec![
        bind().prop_map(Body::BindTransmitter).boxed(),
        bind().prop_map(Body::BindReceiver).boxed(),
        bind().prop_map(Body::BindTransceiver).boxed(),
        bind_resp().prop_map(Body::BindTransmitterResp).boxed(),
        bind_resp().prop_map(Body::BindReceiverResp).boxed(),
        bind_resp().prop_map(Body::BindTransceiverResp).boxed(),
        (cstr(), cstr())
            .prop_map(|(system_id, password)| {
                Body::Outbind(Outbind {
                    system_id,
                    password,
                })
            })
            .boxed(),
        submit_sm().prop_map(Body::SubmitSm).boxed(),
        submit_sm().prop_map(Body::DeliverSm).boxed(),
        message_id_resp().prop_map(Body::SubmitSmResp).boxed(),
        message_id_resp().prop_map(Body::DeliverSmResp).boxed(),
        message_id_resp().prop_map(Body::DataSmResp).boxed(),
        submit_multi().prop_map(Body::SubmitMulti).boxed(),
        submit_multi_resp().prop_map(Body::SubmitMultiResp).boxed(),
        data_sm().prop_map(Body::DataSm).boxed(),
        (cstr(), address())
            .prop_map(|(message_id, source)| Body::QuerySm(QuerySm { message_id, source }))
            .boxed(),
        (cstr(), cstr(), any::<u8>(), any::<u8>())
            .prop_map(|(message_id, final_date, state, error_code)| {
                Body::QuerySmResp(QuerySmResp {
                    message_id,
                    final_date,
                    message_state: MessageState(state),
                    error_code,
                })
            })
            .boxed(),
        (cstr(), cstr(), address(), address())
            .prop_map(|(service_type, message_id, source, dest)| {
                Body::CancelSm(CancelSm {
                    service_type,
                    message_id,
                    source,
                    dest,
                })
            })
            .boxed(),
        (
            cstr(),
            address(),
            cstr(),
            cstr(),
            any::<[u8; 2]>(),
            octets(254),
            tlvs(),
        )
            .prop_map(|(message_id, source, sched, validity, b, sm, tlvs)| {
                Body::ReplaceSm(ReplaceSm {
                    message_id,
                    source,
                    schedule_delivery_time: sched,
                    validity_period: validity,
                    registered_delivery: b[0],
                    sm_default_msg_id: b[1],
                    short_message: sm,
                    tlvs,
                })
            })
            .boxed(),
        (address(), address(), tlvs())
            .prop_map(|(source, esme, tlvs)| {
                Body::AlertNotification(AlertNotification { source, esme, tlvs })
            })
            .boxed(),
        proptest::sample::select(vec![
            Body::Unbind,
            Body::UnbindResp,
            Body::GenericNack,
            Body::CancelSmResp,
            Body::ReplaceSmResp,
            Body::EnquireLink,
            Body::EnquireLinkResp,
        ])
        .boxed(),
    ])
}

fn status() -> impl Strategy<Value = CommandStatus> {
    prop_oneof![
        3 => Just(CommandStatus::ESME_ROK),
        1 => any::<u32>().prop_map(CommandStatus),
    ]
}

fn pdu() -> impl Strategy<Value = Pdu> {
    (any::<u32>(), status(), body()).prop_map(|(sequence, status, body)| Pdu {
        sequence,
        status,
        body,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_inverts_encode(pdu in pdu()) {
        let mut codec = SmppCodec::default();
        let mut buf = BytesMut::new();
        codec.encode(&pdu, &mut buf).unwrap();
        prop_assert_eq!(buf.len(), pdu.encoded_len().unwrap());
        let decoded = codec.decode(&mut buf).unwrap().unwrap().unwrap();
        prop_assert_eq!(decoded, pdu);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_split_points_decode_the_same(
        pdus in vec(pdu(), 1..5),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut wire = BytesMut::new();
        let mut codec = SmppCodec::default();
        for p in &pdus {
            codec.encode(p, &mut wire).unwrap();
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.push(wire.len());
        points.sort_unstable();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut start = 0;
        for end in points {
            buf.extend_from_slice(&wire[start..end]);
            start = end;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item.unwrap());
            }
        }
        prop_assert_eq!(out, pdus);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..600)) {
        let mut codec = SmppCodec::new(512);
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(item)) = codec.decode(&mut buf) {
            if let Ok(pdu) = item {
                let again = Pdu::decode(pdu.to_bytes().unwrap()).unwrap();
                prop_assert_eq!(again, pdu);
            }
        }
    }

    #[test]
    fn mutated_valid_pdus_never_panic(
        pdu in pdu(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut wire = BytesMut::new();
        SmppCodec::default().encode(&pdu, &mut wire).unwrap();
        for (i, v) in flips {
            let i = i.index(wire.len());
            wire[i] = v;
        }
        let mut codec = SmppCodec::default();
        while let Ok(Some(item)) = codec.decode(&mut wire) {
            if let Ok(pdu) = item {
                let again = Pdu::decode(pdu.to_bytes().unwrap()).unwrap();
                prop_assert_eq!(again, pdu);
            }
        }
    }
}
