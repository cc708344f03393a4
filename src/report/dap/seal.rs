//! HPKE (RFC 9180, base mode) sealing of one input share to one aggregator, as DAP-09 defines it.

use hpke::aead::{AesGcm128, AesGcm256, ChaCha20Poly1305};
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeS, Serializable};
use janus_messages::{HpkeAeadId, HpkeCiphertext, HpkeConfig, HpkeKdfId, HpkeKemId, Role};

use crate::{Error, Result};

/// `"dap-09 input share" || sender role || recipient role`: binds the ciphertext to its purpose.
pub(crate) fn input_share_info(recipient: Role) -> Vec<u8> {
    [
        b"dap-09 input share".as_slice(),
        &[Role::Client as u8, recipient as u8],
    ]
    .concat()
}

/// Whether this client can seal to `config` (X25519 + HKDF-SHA256, any of the three AEADs: what
/// Janus generates by default).
pub(crate) fn supported(config: &HpkeConfig) -> bool {
    *config.kem_id() == HpkeKemId::X25519HkdfSha256
        && *config.kdf_id() == HpkeKdfId::HkdfSha256
        && matches!(
            config.aead_id(),
            HpkeAeadId::Aes128Gcm | HpkeAeadId::Aes256Gcm | HpkeAeadId::ChaCha20Poly1305
        )
}

/// Seals `plaintext` to `config`'s public key with a fresh context (DAP never reuses one).
pub(crate) fn seal(config: &HpkeConfig, info: &[u8], plaintext: &[u8], aad: &[u8]) -> Result<HpkeCiphertext> {
    if !supported(config) {
        return Err(Error::Dap(format!(
            "HPKE config {} uses {:?}/{:?}/{:?}; this client seals to X25519HkdfSha256/HkdfSha256 with AES-GCM or ChaCha20Poly1305",
            u8::from(*config.id()),
            config.kem_id(),
            config.kdf_id(),
            config.aead_id()
        )));
    }
    let pk = <X25519HkdfSha256 as hpke::Kem>::PublicKey::from_bytes(config.public_key().as_ref())
        .map_err(|e| Error::Dap(format!("the aggregator's HPKE public key is invalid: {e}")))?;
    // rand's thread RNG is a CSPRNG seeded from the OS (JS `crypto.getRandomValues` on wasm).
    let mut rng = rand::rng();
    let mode = OpModeS::Base;
    let sealed = match config.aead_id() {
        HpkeAeadId::Aes128Gcm => hpke::single_shot_seal::<AesGcm128, HkdfSha256, X25519HkdfSha256, _>(
            &mode, &pk, info, plaintext, aad, &mut rng,
        ),
        HpkeAeadId::Aes256Gcm => hpke::single_shot_seal::<AesGcm256, HkdfSha256, X25519HkdfSha256, _>(
            &mode, &pk, info, plaintext, aad, &mut rng,
        ),
        _ => hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256, _>(
            &mode, &pk, info, plaintext, aad, &mut rng,
        ),
    };
    let (encapped, ciphertext) = sealed.map_err(|e| Error::Dap(format!("HPKE sealing failed: {e}")))?;
    Ok(HpkeCiphertext::new(
        *config.id(),
        encapped.to_bytes().to_vec(),
        ciphertext,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hpke::{Kem as _, OpModeR};
    use janus_messages::{HpkeConfigId, HpkePublicKey};

    #[test]
    fn sealed_share_opens_only_with_the_same_info_and_aad() {
        let (sk, pk) = X25519HkdfSha256::gen_keypair(&mut rand::rng());
        let config = HpkeConfig::new(
            HpkeConfigId::from(7),
            HpkeKemId::X25519HkdfSha256,
            HpkeKdfId::HkdfSha256,
            HpkeAeadId::Aes128Gcm,
            HpkePublicKey::from(pk.to_bytes().to_vec()),
        );
        let info = input_share_info(Role::Helper);
        assert_eq!(&info[..18], b"dap-09 input share");
        assert_eq!(&info[18..], &[1, 3], "client = 1, helper = 3 (DAP-09 Role)");
        let ct = seal(&config, &info, b"share", b"aad").unwrap();
        assert_eq!(u8::from(*ct.config_id()), 7);
        let enc = <X25519HkdfSha256 as hpke::Kem>::EncappedKey::from_bytes(ct.encapsulated_key()).unwrap();
        let open = |info: &[u8], aad: &[u8]| {
            hpke::single_shot_open::<AesGcm128, HkdfSha256, X25519HkdfSha256>(
                &OpModeR::Base,
                &sk,
                &enc,
                info,
                ct.payload(),
                aad,
            )
        };
        assert_eq!(open(&info, b"aad").unwrap(), b"share");
        assert!(
            open(&input_share_info(Role::Leader), b"aad").is_err(),
            "another recipient's info"
        );
        assert!(open(&info, b"other").is_err(), "another report's aad");
    }
}
