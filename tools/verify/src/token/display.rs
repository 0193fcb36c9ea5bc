//! The human-readable form of a verified token: one claim a line, bytes
//! in hex, labels in parentheses.

use super::{Profile, VerifiedToken, label, lifecycle_state};
use std::fmt;

fn row(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    label: i64,
    value: impl fmt::Display,
) -> fmt::Result {
    let key = format!("{name} ({label}):");
    writeln!(f, "  {key:<36} {value}")
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Cca1_0 => "Arm CCA 1.0 (RMM spec A7.2.3)",
            Profile::CcaSsdDraft => "CCA-SSD draft (Veraison ccatoken 0.1)",
        })
    }
}

impl fmt::Display for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use label::*;
        let p = &self.platform;
        let r = &self.realm;
        writeln!(f, "CCA attestation token, profile: {}", self.profile)?;
        writeln!(f, "Platform token: signature verified with the CPAK")?;
        row(f, "profile", PROFILE, &p.profile)?;
        row(
            f,
            "challenge",
            CHALLENGE,
            format_args!(
                "{} (= {} of the RAK claim)",
                hex::encode(&p.challenge),
                r.public_key_hash_algo_id
            ),
        )?;
        row(
            f,
            "implementation id",
            IMPLEMENTATION_ID,
            hex::encode(p.implementation_id),
        )?;
        row(f, "instance id", INSTANCE_ID, hex::encode(p.instance_id))?;
        row(f, "config", CONFIG, hex::encode(&p.config))?;
        row(
            f,
            "lifecycle",
            LIFECYCLE,
            format_args!(
                "{:#06x} ({})",
                p.lifecycle,
                lifecycle_state(p.lifecycle).unwrap_or("?")
            ),
        )?;
        row(f, "hash algo id", PLATFORM_HASH_ALGO_ID, &p.hash_algo_id)?;
        if let Some(service) = &p.verification_service {
            row(f, "verification service", VERIFICATION_SERVICE, service)?;
        }
        row(
            f,
            "sw components",
            SW_COMPONENTS,
            format_args!("{} entries", p.sw_components.len()),
        )?;
        for (i, c) in p.sw_components.iter().enumerate() {
            let unset = String::from("-");
            writeln!(
                f,
                "    [{i}] type {}, version {}, hash algo {}",
                c.component_type.as_ref().unwrap_or(&unset),
                c.version.as_ref().unwrap_or(&unset),
                c.hash_algo_id.as_ref().unwrap_or(&p.hash_algo_id),
            )?;
            writeln!(f, "        measurement: {}", hex::encode(&c.measurement))?;
            writeln!(f, "        signer id:   {}", hex::encode(&c.signer_id))?;
        }
        if !p.other_claims.is_empty() {
            writeln!(
                f,
                "  other claims (not verified): {}",
                p.other_claims.join(", ")
            )?;
        }

        writeln!(f, "Realm token: signature verified with the RAK")?;
        row(f, "challenge", CHALLENGE, hex::encode(r.challenge))?;
        if let Some(profile) = &r.profile {
            row(f, "profile", PROFILE, profile)?;
        }
        row(
            f,
            "personalization value",
            PERSONALIZATION_VALUE,
            hex::encode(r.personalization_value),
        )?;
        row(f, "hash algo id", REALM_HASH_ALGO_ID, &r.hash_algo_id)?;
        row(f, "initial measurement (RIM)", RIM, hex::encode(&r.rim))?;
        for (i, rem) in r.rems.iter().enumerate() {
            row(
                f,
                &format!("extensible measurement {i}"),
                REMS,
                hex::encode(rem),
            )?;
        }
        row(
            f,
            "public key (RAK, SEC1)",
            REALM_PUBLIC_KEY,
            hex::encode(r.public_key.to_sec1_point(false).as_bytes()),
        )?;
        row(
            f,
            "public key hash algo id",
            REALM_PUBLIC_KEY_HASH_ALGO_ID,
            &r.public_key_hash_algo_id,
        )?;
        if !r.other_claims.is_empty() {
            writeln!(
                f,
                "  other claims (not verified): {}",
                r.other_claims.join(", ")
            )?;
        }
        Ok(())
    }
}
