//! `GET P/mfa/totp/activate/` (a new secret, its provisioning URI and QR
//! code, and an activation token) and `POST` (the token and a code of the
//! secret turn MFA on and answer the recovery codes, shown this once).
//!
//! Nothing is stored before the code is checked: the activation token carries
//! the pending secret, sealed with a key derived from the server secret (the
//! reference signs it, so its JSON, secret included, is readable).

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::mfa;
use crate::accounts::AccountError;
use crate::api::fields::{char_field, CharSpec};
use crate::api::grant;
use crate::api::http::{Request, Response};
use crate::api::input::read_body;
use crate::api::qr;
use crate::api::respond::ok;
use crate::api::route::Caller;
use crate::api::second_factor::new_recovery_codes;
use crate::api::{ApiError, FieldErrors};
use crate::security::random;
use crate::security::totp::{base32, Codes, SECRET_BYTES};
use crate::App;

/// The reference's answer when MFA is on already.
pub const ALREADY_ENABLED: &str = "MFA is already enabled. Deactivate it before activating again.";
/// What sealing binds activation tokens to.
const CONTEXT: &[u8] = b"mfa activation token";
/// Characters left as they are in the URI's label (RFC 3986 unreserved).
const LABEL: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What an activation token carries.
#[derive(Serialize, Deserialize)]
struct Pending {
    uid: i64,
    secret: String,
    exp: i64,
}

/// `GET` (and `HEAD`): a new secret every call; allowed with MFA on (the reference's behaviour).
pub fn get(app: &App, _: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user = &caller.owner()?.user;
    let mut raw = [0u8; SECRET_BYTES];
    random::fill(&mut raw).map_err(AccountError::from)?;
    let secret = base32(&raw);
    let exp = app
        .clock
        .unix()
        .saturating_add(grant::secs(app.config.mfa.ephemeral_lifetime));
    let pending = serde_json::to_vec(&Pending {
        uid: user.id,
        secret: secret.clone(),
        exp,
    })
    .map_err(|e| ApiError::Internal(format!("activation token: {e}")))?;
    let sealed = app
        .mfa_keys
        .activation
        .seal(&pending, CONTEXT)
        .map_err(AccountError::from)?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    let account = if user.email.is_empty() {
        &user.username
    } else {
        &user.email
    };
    let url = provisioning_uri(app, account, &secret);
    Ok(ok(json!({
        "secret": secret,
        "totp_url": url,
        "qr_code_data_uri": qr::data_uri(&url).unwrap_or_default(),
        "activation_token": token,
    })))
}

/// `otpauth://totp/<label>?secret=…` as the reference writes it, with
/// `issuer`, `digits` and `period` only when they are not the defaults.
fn provisioning_uri(app: &App, account: &str, secret: &str) -> String {
    let mfa = &app.config.mfa;
    let enc = |s: &str| utf8_percent_encode(s, LABEL).to_string();
    let label = if mfa.issuer.is_empty() {
        enc(account)
    } else {
        format!("{}:{}", enc(&mfa.issuer), enc(account))
    };
    let mut url = format!("otpauth://totp/{label}?secret={secret}");
    if !mfa.issuer.is_empty() {
        url.push_str(&format!("&issuer={}", enc(&mfa.issuer)));
    }
    if mfa.digits != 6 {
        url.push_str(&format!("&digits={}", mfa.digits));
    }
    if mfa.period.as_secs() != 30 {
        url.push_str(&format!("&period={}", mfa.period.as_secs()));
    }
    url
}

/// The refusal of an activation token that is malformed, expired or spent.
fn invalid_token() -> ApiError {
    ApiError::field("activation_token", "Invalid or expired activation token.")
}

/// `POST`: `{activation_token, code}` → `{"recovery_codes": […]}`.
pub fn post(app: &App, req: &Request, caller: &Caller) -> Result<Response, ApiError> {
    let user_id = caller.owner()?.user.id;
    // Checked before anything, even the fields, as the reference does.
    if app.read(|conn| mfa::is_enabled(conn, user_id))? {
        return Err(ApiError::BadRequest(ALREADY_ENABLED));
    }
    let body = read_body(req, app.config.server.max_body_bytes)?;
    let mut errors = FieldErrors::new();
    let token = char_field(
        &body,
        &mut errors,
        "activation_token",
        CharSpec::required(1024),
    );
    let code = char_field(&body, &mut errors, "code", CharSpec::required(64));
    errors.into_result()?;
    let (token, code) = (token.unwrap_or_default(), code.unwrap_or_default());
    let now = app.clock.unix();
    let pending = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|sealed| app.mfa_keys.activation.open(&sealed, CONTEXT))
        .and_then(|json| serde_json::from_slice::<Pending>(&json).ok())
        .filter(|p| p.exp > now)
        .ok_or_else(invalid_token)?;
    if pending.uid != user_id {
        return Err(ApiError::field(
            "activation_token",
            "Invalid activation token for this user.",
        ));
    }
    let raw = totp_rs::Secret::try_from_base32(&pending.secret).map_err(|_| invalid_token())?;
    let codes = Codes::new(&app.config.mfa, raw.as_ref());
    let step = codes
        .accept(&code, u64::try_from(now).unwrap_or(0), None)
        .and_then(|s| i64::try_from(s).ok())
        .ok_or_else(|| {
            ApiError::field(
                "code",
                "Invalid code. Please check your authenticator app and try again.",
            )
        })?;
    let (recovery, hmacs) = new_recovery_codes(app)?;
    let sealed = app
        .mfa_keys
        .totp
        .seal(
            raw.as_ref(),
            &crate::api::second_factor::secret_context(user_id),
        )
        .map_err(AccountError::from)?;
    // The activation code's step is recorded as used: it cannot log in again.
    // The token works once: after a deactivation it cannot turn MFA back on.
    app.write(|tx| -> Result<(), ApiError> {
        if !mfa::spend_activation(tx, user_id, &token, now, pending.exp)? {
            return Err(invalid_token());
        }
        if !mfa::enable(tx, user_id, &sealed, step, now, &hmacs)? {
            return Err(ApiError::BadRequest(ALREADY_ENABLED));
        }
        Ok(())
    })?;
    Ok(ok(json!({ "recovery_codes": recovery })))
}
