// Stands in for stack-utils inside the bundle (esbuild --alias in package.json's build): ink imports it for
// its error overview, which strata never shows (a crash leaves the TUI and is reported in one line), and
// the CommonJS package's require('module') cannot be made in an ES module bundle.
export default class StackUtils {
  static nodeInternals(): RegExp[] {
    return [];
  }
  constructor(_opts?: unknown) {}
  clean(stack: string): string {
    return stack;
  }
  parseLine(_line: string): null {
    return null;
  }
}
