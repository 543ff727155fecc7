// The pre-commit hook starts this binary on every commit, and most of a
// small commit's check is process start. Linked as a position-independent
// executable, the dynamic loader first applies ~8,000 relocations to the
// binary's tables (and copies the pages they sit on); linked at a fixed
// address, the linker resolves them once. See BENCHMARKS.md.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
