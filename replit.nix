# Tools `make run` needs beyond the Python and Node.js modules named in .replit.
{ pkgs }: {
  deps = [
    pkgs.gnumake
    pkgs.bash
  ];
}
