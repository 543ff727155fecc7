use super::*;

fn binding(text: &str) -> Option<String> {
    let file = Path::new("hosts/default.nix");
    inputs_binding(file, text, &syntax::parse(file, text).unwrap())
}

#[test]
fn a_file_taking_the_inputs_themselves_names_them_as_they_are() {
    let hosts =
        "inputs:\n{\n  neon = inputs.nixpkgs.lib.nixosSystem { modules = [ ./neon.nix ]; };\n}\n";
    assert_eq!(binding(hosts).as_deref(), Some("inputs"));
    let renamed = "i: { neon = i.nixpkgs.lib.nixosSystem { modules = [ ./neon.nix ]; }; }";
    assert_eq!(binding(renamed).as_deref(), Some("i"));
}

#[test]
fn a_file_taking_a_set_that_holds_them_reads_them_from_it() {
    let args =
        "args: { neon = args.inputs.nixpkgs.lib.nixosSystem { modules = [ ./neon.nix ]; }; }";
    assert_eq!(binding(args).as_deref(), Some("args.inputs"));
    let pattern = "{ inputs, ... }: { }";
    assert_eq!(binding(pattern).as_deref(), Some("inputs"));
}
