//! Inter-service messages and the wire ABIs Rampart speaks.
//!
//! * [`Protocol`]: a service's request/reply pair; [`Transport`]: how a caller
//!   reaches it. The kernel router and the in-process [`Direct`] transport of
//!   host tests implement the same trait, so a service never knows which.
//! * Encoding: postcard into fixed [`Message`] buffers; every message type
//!   round-trips ([`encode`]/[`decode`]), which is what lets a service move
//!   behind an address-space boundary without changing.
//! * [`gpt`]: the GPT manager's protocol. [`smccc`]: function IDs and their
//!   routing. [`rmm_el3`]: TF-A's RMM-EL3 interface (boot registers, boot
//!   manifest, GTSI/attestation calls).
#![no_std]

pub mod attest;
pub mod bench;
pub mod gpt;
pub mod granule;
pub mod lease;
pub mod realm;
pub mod rec;
pub mod rec_abi;
pub mod rmi;
pub mod rmm_el3;
pub mod rsi;
pub mod rtt;
pub mod smccc;
pub mod trace;

use serde::{Serialize, de::DeserializeOwned};

/// Largest encoded message; a lease carries bulk data, never a message.
pub const MAX_MESSAGE: usize = 256;

/// An encoded message.
pub type Message = heapless::Vec<u8, MAX_MESSAGE>;

/// Services that can be addressed. The discriminant is the wire endpoint id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Endpoint {
    Gpt = 1,
    Granule = 2,
    Rtt = 3,
    Realm = 4,
    Rec = 5,
    Attestation = 6,
}

/// Failures of the transport itself (not of the service: those are typed
/// inside each reply).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum IpcError {
    /// The message does not fit [`MAX_MESSAGE`].
    TooLarge,
    /// The bytes are not a valid message of the expected type.
    Malformed,
    /// No server is attached to the endpoint.
    NoServer,
}

/// A service's request/reply pair.
pub trait Protocol {
    const ENDPOINT: Endpoint;
    type Request: Serialize + DeserializeOwned + core::fmt::Debug;
    type Reply: Serialize + DeserializeOwned + core::fmt::Debug;
}

/// The service side: owns its state, answers one request at a time.
pub trait Server<P: Protocol> {
    fn handle(&mut self, request: P::Request) -> P::Reply;
}

/// The caller side: synchronous request/reply.
pub trait Transport<P: Protocol> {
    fn call(&mut self, request: P::Request) -> Result<P::Reply, IpcError>;
}

/// Encodes a message into a fixed buffer.
pub fn encode<T: Serialize>(message: &T) -> Result<Message, IpcError> {
    let mut buf = [0u8; MAX_MESSAGE];
    let used = postcard::to_slice(message, &mut buf).map_err(|_| IpcError::TooLarge)?;
    Message::from_slice(used).map_err(|_| IpcError::TooLarge)
}

/// Decodes a message; trailing bytes are rejected so a frame is exactly one message.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, IpcError> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(IpcError::Malformed),
    }
}

/// How a [`Direct`] transport passes messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passing {
    /// The typed value, as inside one address space.
    Typed,
    /// Encoded and decoded both ways, as across an address-space boundary.
    Encoded,
}

/// In-process transport to one server (host tests, and the typed fast path).
pub struct Direct<'a, S> {
    server: &'a mut S,
    passing: Passing,
}

impl<'a, S> Direct<'a, S> {
    pub fn new(server: &'a mut S, passing: Passing) -> Self {
        Self { server, passing }
    }
}

impl<P: Protocol, S: Server<P>> Transport<P> for Direct<'_, S> {
    fn call(&mut self, request: P::Request) -> Result<P::Reply, IpcError> {
        match self.passing {
            Passing::Typed => Ok(self.server.handle(request)),
            Passing::Encoded => {
                let request: P::Request = decode(&encode(&request)?)?;
                let reply = self.server.handle(request);
                decode(&encode(&reply)?)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Asserts that a message survives encoding unchanged.
    pub fn round_trip<T>(message: &T)
    where
        T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug,
    {
        let bytes = encode(message).expect("fits");
        let back: T = decode(&bytes).expect("decodes");
        assert_eq!(&back, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_trailing_bytes_and_garbage() {
        let mut bytes = encode(&Endpoint::Rtt).unwrap();
        bytes.push(0).unwrap();
        assert_eq!(decode::<Endpoint>(&bytes), Err(IpcError::Malformed));
        assert_eq!(decode::<Endpoint>(&[0xff]), Err(IpcError::Malformed));
        assert_eq!(decode::<Endpoint>(&[]), Err(IpcError::Malformed));
    }

    #[test]
    fn transport_errors_round_trip() {
        for e in [IpcError::TooLarge, IpcError::Malformed, IpcError::NoServer] {
            test_support::round_trip(&e);
        }
        for ep in [
            Endpoint::Gpt,
            Endpoint::Granule,
            Endpoint::Rtt,
            Endpoint::Realm,
            Endpoint::Rec,
            Endpoint::Attestation,
        ] {
            test_support::round_trip(&ep);
        }
    }

    #[test]
    fn encode_reports_oversize() {
        // 40 tuples of 8 bytes each encode to well over MAX_MESSAGE.
        let big = [(u64::MAX, u64::MAX, u64::MAX, u64::MAX, u64::MAX); 8];
        let bigger = [big, big, big, big, big];
        assert_eq!(encode(&bigger).err(), Some(IpcError::TooLarge));
    }
}
