// What --help says of devicemapper, in a module of its own: the help must not load the driver.
export const DEVICEMAPPER_HELP =
  "devicemapper is read offline and read-only, as root (its layers are loop-mounted read-only), with thin_dump from Debian's thin-provisioning-tools (apt-get install thin-provisioning-tools)";
