//! uniffi's generator, built from the same uniffi version as the scaffolding:
//! `uniffi-bindgen generate --library libhelix_uniffi.so --language python --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
