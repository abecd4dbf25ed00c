// Drawing: a pane is a column of lines already cut to its width (cli/tui/text.ts), each with its colour.
import { Box, Text } from 'ink';
import { useEffect, useState } from 'react';
import type { Line } from './screen.js';
import { fit } from './text.js';


const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * A spinner turning four times a second: each turn redraws the whole screen (ink draws the tree, not the
 * node that changed), so a faster one would take the main thread from the listing it waits for.
 */
function Spinner() {
  const [i, setI] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setI((n) => (n + 1) % SPINNER.length), 250);
    return () => clearInterval(timer);
  }, []);
  return <Text>{SPINNER[i]}</Text>;
}

export function LineView({ line, width }: { line: Line; width: number }) {
  if (line.pieces) {
    return (
      <Text wrap="truncate">
        {line.pieces.map((p, i) => (
          <Text key={i} color={p.color} dimColor={p.dim}>
            {p.text}
          </Text>
        ))}
      </Text>
    );
  }
  if (line.spinner) {
    // After the row's selection mark and indentation.
    const lead = line.text.match(/^(?:> )? */)![0];
    return (
      <Text wrap="truncate" color={line.color} dimColor={line.dim}>
        {lead}
        <Spinner /> {fit(line.text.slice(lead.length), Math.max(0, width - lead.length - 2))}
      </Text>
    );
  }
  return (
    <Text wrap="truncate" color={line.color} dimColor={line.dim} bold={line.bold} inverse={line.inverse}>
      {fit(line.text, width)}
    </Text>
  );
}

/** A column of exactly `height` lines, `width` columns wide (blank lines below the last). */
export function Column({ lines, width, height }: { lines: Line[]; width: number; height: number }) {
  const shown = lines.slice(0, height);
  while (shown.length < height) shown.push({ text: '' });
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0}>
      {shown.map((line, i) => (
        <LineView key={i} line={line} width={width} />
      ))}
    </Box>
  );
}
