//! Test support: accounts registered and signed in through the control plane.

use crate::auth::{Credentials, Principal};
use crate::ops::accounts::{LoginRequest, RegisterRequest};
use crate::ControlPlane;

/// Registers `root@x.io` (the first account: site admin) and `user@x.io`, signs both
/// in; returns (admin, user) with the admin's session token.
pub(crate) async fn admin_and_user(cp: &ControlPlane) -> (Principal, Principal, String) {
    let mut signed_in = Vec::new();
    for email in ["root@x.io", "user@x.io"] {
        let password = "correct horse".to_owned();
        cp.register(RegisterRequest {
            email: email.into(),
            password: password.clone(),
            name: None,
        })
        .await
        .unwrap();
        let login = cp
            .login(LoginRequest {
                email: email.into(),
                password,
            })
            .await
            .unwrap();
        let creds = Credentials {
            session_token: Some(login.session_token.clone()),
            ..Default::default()
        };
        signed_in.push((cp.authenticate(&creds).await.unwrap(), login.session_token));
    }
    let (user, _) = signed_in.pop().unwrap();
    let (admin, admin_token) = signed_in.pop().unwrap();
    assert!(admin.is_admin() && !user.is_admin());
    (admin, user, admin_token)
}
