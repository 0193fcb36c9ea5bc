//! RSI_ATTESTATION_TOKEN_INIT and _CONTINUE (RMM spec 1.0, B5.3.2 and
//! B5.3.1): the REC service keeps the per-REC token state and moves
//! bytes; the attestation service alone signs.
//!
//! INIT captures the challenge and the realm's measurements into the
//! REC's claims granule. The first CONTINUE has the attestation service
//! sign the token into the REC's token granules (unless a physical
//! interrupt is pending: then the realm gets RSI_INCOMPLETE and the host
//! an IRQ exit, and the next CONTINUE signs). Every CONTINUE copies the
//! next piece into the realm's buffer.

use crate::rsi::{Outcome, buffer_error, ret};
use crate::{GRANULE, RecRouter, RecService};
use bytemuck::Zeroable;
use rampart_ipc::Transport;
use rampart_ipc::attest::{
    AttestProtocol, AttestReply, AttestRequest, CLAIMS_AUX, MAX_TOKEN, TOKEN_AUX, TOKEN_GRANULES,
    TokenClaims,
};
use rampart_ipc::lease::{GRANULE_SIZE, Leases};
use rampart_ipc::realm::{RealmReply, RealmRequest};
use rampart_ipc::rec::{ATTEST_CLAIMS, ATTEST_IDLE, ATTEST_SIGNED, RecContext};
use rampart_ipc::rec_abi::exit;
use rampart_ipc::rsi;
use rampart_ipc::rtt::Lookup;

/// Bytes moved per mapping when copying the token out (stack bounce).
const COPY_CHUNK: usize = 512;

impl<T: RecRouter, L: Leases> RecService<T, L> {
    /// RSI_ATTESTATION_TOKEN_INIT (B5.3.2): no failure conditions. X1-X8
    /// are the challenge; X1 returns the largest token size. A token in
    /// progress is abandoned.
    pub(crate) fn attest_init(&mut self, ctx: &mut RecContext) -> Outcome {
        ctx.attest_state = ATTEST_IDLE;
        let Some(claims) = self.capture_claims(ctx) else {
            return ret(ctx, &[rsi::ERROR_UNKNOWN]);
        };
        let written = self
            .leases
            .with_realm(ctx.aux[CLAIMS_AUX], |g| *TokenClaims::of_mut(g) = claims);
        if written.is_err() {
            return ret(ctx, &[rsi::ERROR_UNKNOWN]);
        }
        ctx.attest_state = ATTEST_CLAIMS;
        ctx.token_len = 0;
        ctx.token_copied = 0;
        ret(ctx, &[rsi::SUCCESS, MAX_TOKEN])
    }

    /// The challenge from X1-X8 and the realm's RPV, hash algorithm, RIM
    /// and REMs as they are now (A7.2.3.1).
    fn capture_claims(&mut self, ctx: &RecContext) -> Option<TokenClaims> {
        let mut claims = TokenClaims::zeroed();
        le_bytes(&ctx.gprs[1..9], &mut claims.challenge);
        let Some(RealmReply::Bytes64(rpv)) = self.realm(RealmRequest::Rpv { rd: ctx.rd }) else {
            return None;
        };
        le_bytes(&rpv, &mut claims.personalization_value);
        for index in 0..rsi::MEASUREMENT_SLOTS as u8 {
            let request = RealmRequest::ReadMeasurement { rd: ctx.rd, index };
            let Some(RealmReply::Bytes64(words)) = self.realm(request) else {
                return None;
            };
            let slot = match index {
                0 => &mut claims.rim,
                i => &mut claims.rems[usize::from(i) - 1],
            };
            le_bytes(&words, slot);
        }
        claims.hash_algo = ctx.hash_algo;
        Some(claims)
    }

    /// RSI_ATTESTATION_TOKEN_CONTINUE (B5.3.1). X1 the IPA of a Protected
    /// granule, X2/X3 the buffer's offset and size within it: misaligned,
    /// Unprotected, or past the granule's end is RSI_ERROR_INPUT; no token
    /// in progress is RSI_ERROR_STATE. Like TF-RMM, a buffer in RIPAS
    /// EMPTY is RSI_ERROR_INPUT and one in RAM without a granule a stage-2
    /// fault for the host (the realm repeats the call). X1 returns the
    /// bytes written: RSI_INCOMPLETE while more remain, RSI_SUCCESS with
    /// the last piece.
    pub(crate) fn attest_continue(&mut self, ctx: &mut RecContext, irq_pending: bool) -> Outcome {
        let (ipa, offset, size) = (ctx.gprs[1], ctx.gprs[2], ctx.gprs[3]);
        let past_end = offset.checked_add(size).is_none_or(|end| end > GRANULE);
        if !ipa.is_multiple_of(GRANULE)
            || !self.protected(ctx, ipa)
            || offset >= GRANULE
            || past_end
        {
            return ret(ctx, &[rsi::ERROR_INPUT]);
        }
        if ctx.attest_state == ATTEST_IDLE {
            return ret(ctx, &[rsi::ERROR_STATE]);
        }
        if ctx.attest_state == ATTEST_CLAIMS {
            // The buffer is checked before the long step, so that a bad
            // one leaves the token unsigned (the pin below re-checks).
            match self.lookup(ctx.rd, ipa, false) {
                Some(Lookup { pa: Some(_), .. }) => {}
                Some(Lookup { ripas: 0, .. }) | None => return buffer_error(ctx, ipa, None),
                Some(Lookup { level, .. }) => return buffer_error(ctx, ipa, Some(level)),
            }
            if irq_pending {
                // Let the host take its interrupt before the long step.
                ctx.exit.reason = exit::IRQ;
                ret(ctx, &[rsi::INCOMPLETE, 0]);
                return Outcome::Exit;
            }
            let mut token = [0; TOKEN_GRANULES];
            token.copy_from_slice(&ctx.aux[TOKEN_AUX..TOKEN_AUX + TOKEN_GRANULES]);
            let request = AttestRequest::Sign {
                claims: ctx.aux[CLAIMS_AUX],
                token,
            };
            match Transport::<AttestProtocol>::call(&mut self.router, request) {
                Ok(AttestReply::Token { len }) => {
                    ctx.attest_state = ATTEST_SIGNED;
                    ctx.token_len = u64::from(len);
                    ctx.token_copied = 0;
                }
                _ => {
                    ctx.attest_state = ATTEST_IDLE;
                    return ret(ctx, &[rsi::ERROR_UNKNOWN]);
                }
            }
        }
        let pa = match self.pin_buffer(ctx, ipa) {
            Ok(pa) => pa,
            Err(outcome) => return outcome,
        };
        let count = size.min(ctx.token_len - ctx.token_copied);
        let copied = self.copy_token(ctx, pa, offset as usize, count as usize);
        self.unpin(pa);
        if !copied {
            return ret(ctx, &[rsi::ERROR_UNKNOWN]);
        }
        ctx.token_copied += count;
        if ctx.token_copied == ctx.token_len {
            ctx.attest_state = ATTEST_IDLE;
            ret(ctx, &[rsi::SUCCESS, count])
        } else {
            ret(ctx, &[rsi::INCOMPLETE, count])
        }
    }

    /// Copies `count` token bytes from where the realm got to into the
    /// realm granule `pa` at `offset`.
    fn copy_token(&mut self, ctx: &RecContext, pa: u64, offset: usize, count: usize) -> bool {
        let mut chunk = [0u8; COPY_CHUNK];
        let mut done = 0;
        while done < count {
            let from = ctx.token_copied as usize + done;
            let (granule, within) = (from / GRANULE_SIZE, from % GRANULE_SIZE);
            let len = (count - done).min(COPY_CHUNK).min(GRANULE_SIZE - within);
            let piece = &mut chunk[..len];
            let read = self.leases.with_realm(ctx.aux[TOKEN_AUX + granule], |g| {
                piece.copy_from_slice(&g.bytes()[within..within + len]);
            });
            let to = offset + done;
            let wrote = read.is_ok()
                && self
                    .leases
                    .with_realm(pa, |g| g.bytes_mut()[to..to + len].copy_from_slice(piece))
                    .is_ok();
            if !wrote {
                return false;
            }
            done += len;
        }
        true
    }
}

/// Registers as the realm lays them out in memory (little-endian).
fn le_bytes(words: &[u64], out: &mut [u8; 64]) {
    for (bytes, word) in out.chunks_exact_mut(8).zip(words) {
        bytes.copy_from_slice(&word.to_le_bytes());
    }
}
