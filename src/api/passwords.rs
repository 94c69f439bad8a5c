//! Django's `SetPasswordForm` checks, shared by password change and reset confirm.

use super::{ApiError, FieldErrors};
use crate::accounts::users::User;
use crate::security::validators::{validate_password, UserAttributes};

/// Django's mismatch message for set-password forms (typographic apostrophe U+2019).
pub const MISMATCH: &str = "The two password fields didn\u{2019}t match.";

/// A mismatch first, then Django's validators against `user`; every error under `new_password2`.
pub fn check_new_password(new1: &str, new2: &str, user: &User) -> Result<(), ApiError> {
    if new1 != new2 {
        return Err(ApiError::field("new_password2", MISMATCH));
    }
    let attributes = UserAttributes {
        username: &user.username,
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
    };
    let mut errors = FieldErrors::new();
    for message in validate_password(new2, Some(&attributes)) {
        errors.add("new_password2", message);
    }
    errors.into_result()
}
