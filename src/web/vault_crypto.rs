//! The vault encrypted at rest: AES-GCM (256-bit) through WebCrypto, with a
//! non-extractable key kept in IndexedDB (a `CryptoKey` is structured-cloneable, so the
//! browser stores it without ever exposing its bytes to script).
//!
//! Stored form: `{"sealed":2,"alg":"A256GCM","iv":"<b64>","data":"<b64>"}`, `data` being
//! the copy number (8 bytes, big-endian) then the ciphertext. The additional authenticated
//! data binds the ciphertext to this purpose, the format version and the copy number, a
//! counter raised by every save (issue 11, defect 7). The last copy saved is kept in
//! IndexedDB next to the key: a vault with a lower number is an older copy put back (a
//! restored backup, a rolled-back profile, another tool), and the number cannot be edited
//! without failing authentication. Version 1 (`data` the ciphertext alone, no counter)
//! still reads.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use js_sys::{Array, Promise, Reflect, Uint8Array};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AesGcmParams, AesKeyGenParams, CryptoKey, IdbDatabase, IdbFactory, IdbOpenDbRequest,
    IdbRequest, IdbTransactionMode, SubtleCrypto,
};

const DB_NAME: &str = "sidebar-auth";
const STORE: &str = "keys";
const KEY_NAME: &str = "vault-key-v1";
/// The last vault copy saved (its `n`).
const COUNTER_NAME: &str = "vault-counter";
const AAD_V1: &[u8] = b"sidebar-auth vault v1";

/// Version 2's authenticated data: the purpose and version, then the copy number as 8
/// big-endian bytes.
fn aad_v2(copy: u64) -> Vec<u8> {
    [&b"sidebar-auth vault v2 #"[..], &copy.to_be_bytes()].concat()
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    sealed: u32,
    alg: String,
    iv: String,
    data: String,
}

/// An opened vault: its text, its copy number (none for version 1), and whether it is
/// older than the last copy saved here.
pub struct Opened {
    pub text: String,
    pub copy: Option<u64>,
    pub rolled_back: bool,
}

/// Why stored text could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// Not the sealed format at all.
    NotSealed,
    /// The key is gone (site data cleared) or the text was altered: authentication failed.
    CannotDecrypt,
    /// WebCrypto or IndexedDB is unavailable.
    Unavailable(String),
}

fn subtle() -> Result<SubtleCrypto, String> {
    let crypto =
        Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).map_err(|_| "no crypto")?;
    let crypto: web_sys::Crypto = crypto
        .dyn_into()
        .map_err(|_| "crypto is not Crypto".to_string())?;
    Ok(crypto.subtle())
}

/// Resolves an IndexedDB request as a promise of its `result`.
fn idb_result(request: &IdbRequest) -> JsFuture {
    let request = request.clone();
    let promise = Promise::new(&mut |resolve, reject| {
        let ok_request = request.clone();
        let on_success = Closure::once_into_js(move |_event: JsValue| {
            let _ = resolve.call1(
                &JsValue::NULL,
                &ok_request.result().unwrap_or(JsValue::UNDEFINED),
            );
        });
        let err_request = request.clone();
        let on_error = Closure::once_into_js(move |_event: JsValue| {
            let error = err_request
                .error()
                .ok()
                .flatten()
                .map(JsValue::from)
                .unwrap_or(JsValue::NULL);
            let _ = reject.call1(&JsValue::NULL, &error);
        });
        request.set_onsuccess(Some(on_success.unchecked_ref()));
        request.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise)
}

async fn open_db() -> Result<IdbDatabase, String> {
    let factory: IdbFactory = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .map_err(|_| "no indexedDB".to_string())?
        .dyn_into()
        .map_err(|_| "indexedDB unavailable".to_string())?;
    let open: IdbOpenDbRequest = factory
        .open_with_u32(DB_NAME, 1)
        .map_err(|_| "indexedDB open failed".to_string())?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let target = Reflect::get(&event, &JsValue::from_str("target")).unwrap_or(JsValue::NULL);
        if let Ok(request) = target.dyn_into::<IdbRequest>() {
            if let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                if !db.object_store_names().contains(STORE) {
                    let _ = db.create_object_store(STORE);
                }
            }
        }
    });
    open.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = idb_result(&open)
        .await
        .map_err(|_| "indexedDB open failed".to_string())?;
    drop(upgrade);
    db.dyn_into().map_err(|_| "not a database".to_string())
}

/// One value of the key store (`undefined` when absent).
async fn stored(db: &IdbDatabase, name: &str) -> Result<JsValue, String> {
    let request = db
        .transaction_with_str(STORE)
        .and_then(|tx| tx.object_store(STORE))
        .and_then(|store| store.get(&JsValue::from_str(name)))
        .map_err(|_| "key read failed")?;
    idb_result(&request)
        .await
        .map_err(|_| "key read failed".to_string())
}

/// The vault key, created on first use, and the last vault copy saved (none before the
/// first version-2 save). `add` (not `put`) so two contexts creating a key at once cannot
/// overwrite each other's: the loser reads the winner's.
async fn vault_key() -> Result<(CryptoKey, Option<u64>), String> {
    let db = open_db().await?;
    let last_copy = stored(&db, COUNTER_NAME).await?.as_f64().map(|n| n as u64);
    if let Ok(key) = stored(&db, KEY_NAME).await?.dyn_into::<CryptoKey>() {
        return Ok((key, last_copy));
    }
    let subtle = subtle()?;
    let params = AesKeyGenParams::new("AES-GCM", 256);
    let usages = Array::of2(&JsValue::from_str("encrypt"), &JsValue::from_str("decrypt"));
    let promise = subtle
        .generate_key_with_object(&params, false, &usages)
        .map_err(|_| "generateKey failed".to_string())?;
    let key: CryptoKey = JsFuture::from(promise)
        .await
        .map_err(|_| "generateKey failed".to_string())?
        .dyn_into()
        .map_err(|_| "not a CryptoKey".to_string())?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(|_| "transaction failed")?;
    let store = tx.object_store(STORE).map_err(|_| "no key store")?;
    let request = store
        .add_with_key(&key, &JsValue::from_str(KEY_NAME))
        .map_err(|_| "key write failed")?;
    if idb_result(&request).await.is_ok() {
        return Ok((key, last_copy));
    }
    stored(&db, KEY_NAME)
        .await?
        .dyn_into::<CryptoKey>()
        .map(|key| (key, last_copy))
        .map_err(|_| "key write failed".to_string())
}

fn gcm_params(iv: &[u8], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(iv));
    params.set_additional_data(&Uint8Array::from(aad));
    params
}

/// After the host saved copy `copy` (sealed under the vault lock, one above the last):
/// remember it. A failure is not the caller's: the next save remembers a higher copy, and
/// until then an older copy goes unnoticed, nothing worse.
pub async fn remember_saved(copy: u64) {
    let Ok(db) = open_db().await else { return };
    let Ok(tx) = db.transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite) else {
        return;
    };
    let request = tx.object_store(STORE).and_then(|store| {
        store.put_with_key(
            &JsValue::from_f64(copy as f64),
            &JsValue::from_str(COUNTER_NAME),
        )
    });
    if let Ok(request) = request {
        let _ = idb_result(&request).await;
    }
}

/// Seals `plaintext` as the next copy; returns the text and its copy number, which the
/// caller passes to `remember_saved` once the host has saved it.
pub async fn seal(plaintext: &str) -> Result<(String, u64), String> {
    let (key, last_copy) = vault_key().await?;
    let copy = last_copy.unwrap_or(0) + 1;
    let mut iv = [0u8; 12];
    getrandom::getrandom(&mut iv).map_err(|_| "no randomness".to_string())?;
    let promise = subtle()?
        .encrypt_with_object_and_u8_array(
            &gcm_params(&iv, &aad_v2(copy)),
            &key,
            plaintext.as_bytes(),
        )
        .map_err(|_| "encrypt failed".to_string())?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| "encrypt failed".to_string())?;
    let mut data = copy.to_be_bytes().to_vec();
    data.extend(Uint8Array::new(&buffer).to_vec());
    let sealed = Sealed {
        sealed: 2,
        alg: "A256GCM".into(),
        iv: STANDARD.encode(iv),
        data: STANDARD.encode(data),
    };
    let text = serde_json::to_string(&sealed).map_err(|e| e.to_string())?;
    Ok((text, copy))
}

pub async fn open(stored: &str) -> Result<Opened, OpenError> {
    let sealed: Sealed = serde_json::from_str(stored).map_err(|_| OpenError::NotSealed)?;
    if sealed.alg != "A256GCM" {
        return Err(OpenError::NotSealed);
    }
    let iv = STANDARD
        .decode(&sealed.iv)
        .map_err(|_| OpenError::CannotDecrypt)?;
    let data = STANDARD
        .decode(&sealed.data)
        .map_err(|_| OpenError::CannotDecrypt)?;
    let (aad, copy, data) = match (sealed.sealed, data.split_first_chunk::<8>()) {
        (1, _) => (AAD_V1.to_vec(), None, &data[..]),
        (2, Some((copy, rest))) => {
            let copy = u64::from_be_bytes(*copy);
            (aad_v2(copy), Some(copy), rest)
        }
        (2, None) => return Err(OpenError::CannotDecrypt),
        _ => return Err(OpenError::NotSealed),
    };
    let (key, last_copy) = vault_key().await.map_err(OpenError::Unavailable)?;
    let promise = subtle()
        .map_err(OpenError::Unavailable)?
        .decrypt_with_object_and_u8_array(&gcm_params(&iv, &aad), &key, data)
        .map_err(|_| OpenError::CannotDecrypt)?;
    let buffer = JsFuture::from(promise)
        .await
        .map_err(|_| OpenError::CannotDecrypt)?;
    let text = String::from_utf8(Uint8Array::new(&buffer).to_vec())
        .map_err(|_| OpenError::CannotDecrypt)?;
    // Authenticated: `copy` is the copy this text was sealed as. A version-1 vault after a
    // version-2 save is an older copy too.
    let rolled_back = last_copy.is_some_and(|last| copy.is_none_or(|copy| copy < last));
    Ok(Opened {
        text,
        copy,
        rolled_back,
    })
}
