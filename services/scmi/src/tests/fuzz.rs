//! Garbage in the mailbox, before and after the doorbell: every call must
//! return (Ok or Err) without panicking, stay inside the mailbox bytes it
//! owns (the simulator asserts that), and only report success for a
//! response that really echoes the request.

use super::sim::{Bell, Mode, Rng, Sim, WINDOW, at};
use crate::smt::Channel;
use crate::{Error, MessageHeader, RDV3, Scmi};

const ROUNDS: u64 = 4000;

fn random_call(
    scmi: &mut Scmi<'static, &Sim, Bell<'_>>,
    pick: u64,
    core: usize,
) -> Result<(), Error> {
    match pick % 9 {
        0 => scmi.cpu_on(core),
        1 => scmi.cpu_off(core),
        2 => scmi.system_off(),
        3 => scmi.system_reset(),
        4 => scmi.system_warm_reset(),
        5 => scmi.power_state_get(core as u32).map(|_| ()),
        6 => scmi.protocol_version(0x11).map(|_| ()),
        7 => scmi.protocol_message_attributes(0x12, 3).map(|_| ()),
        _ => scmi.init().map(|_| ()),
    }
}

#[test]
fn random_memory_never_panics() {
    let mut rng = Rng(0x5EED_0000_C0FF_EE11);
    let mut outcomes = [0usize; 2];
    for round in 0..ROUNDS {
        let sim = Sim::new();
        let mut initial = [0u8; WINDOW];
        rng.fill(&mut initial);
        sim.fill(&initial);
        let seed = rng.next();
        sim.mode.set(if round % 2 == 0 {
            Mode::Garbage(seed)
        } else {
            Mode::GarbageWithEcho(seed)
        });
        let polls = rng.below(4) as u32;
        let mut scmi = Scmi::new(&RDV3, Channel::new(&sim, Bell(&sim), polls));
        // Cores past the map too, to cover UnknownCore.
        let core = rng.below(20) as usize;
        let result = random_call(&mut scmi, rng.next(), core);
        outcomes[usize::from(result.is_ok())] += 1;

        if result.is_ok() {
            // Success needs an exact header echo of what was rung.
            let request = super::sim::decode(&sim.last_request());
            assert_eq!(sim.peek(at::HEADER), request.header);
            assert_eq!(sim.peek(at::STATUS) & 0b11, 0b01);
        }
    }
    // The generator must reach both outcomes, or it tests little.
    assert!(outcomes[0] > ROUNDS as usize / 2, "{outcomes:?}");
    assert!(outcomes[1] >= 20, "{outcomes:?}");
}

#[test]
fn random_words_in_each_response_field_never_panic() {
    // Targeted: an honest answer with one field overwritten by a random or
    // near-valid word, so each check meets values close to the good ones.
    let mut rng = Rng(0xFEED_FACE_1234_5678);
    let fields = [
        at::STATUS,
        at::LENGTH,
        at::HEADER,
        at::PAYLOAD,
        at::PAYLOAD + 4,
    ];
    for _ in 0..ROUNDS {
        let sim = Sim::new();
        let field = fields[rng.below(fields.len() as u64) as usize];
        let value = match rng.below(3) {
            0 => rng.next() as u32,
            1 => rng.below(16) as u32,
            _ => (rng.next() as u32) | 1,
        };
        sim.mode.set(Mode::Tamper { at: field, value });
        let mut scmi = Scmi::new(&RDV3, Channel::new(&sim, Bell(&sim), 2));
        let pick = rng.next();
        if random_call(&mut scmi, pick, 1).is_ok() {
            let request = super::sim::decode(&sim.last_request());
            assert_eq!(sim.peek(at::HEADER), request.header);
        }
    }
}

#[test]
fn header_decode_encode_is_stable_for_any_word() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..ROUNDS {
        let word = rng.next() as u32;
        let header = MessageHeader::decode(word);
        assert_eq!(header.encode(), word & 0x0FFF_FFFF);
        assert!(header.message_type <= 3 && header.token <= 0x3FF);
    }
}
