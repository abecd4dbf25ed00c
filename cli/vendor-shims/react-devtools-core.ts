// ink imports react-devtools-core only when DEV=true; strata never connects to React devtools, so the bundle
// carries this empty stand-in instead of the package (which is not installed).
export default { initialize(): void {}, connectToDevTools(): void {} };
