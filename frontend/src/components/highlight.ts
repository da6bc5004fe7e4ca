// Code highlighting for answers, in its own chunk: highlight.js's grammars are most of
// its weight, and a chat without code never needs them.
import rehypeHighlight from "rehype-highlight";
import type { Options } from "react-markdown";

// Fenced blocks with a language are highlighted; unlabeled ones are left plain
// (guessing the language of every block costs more than it shows).
export const rehypePlugins: Options["rehypePlugins"] = [[rehypeHighlight, { detect: false }]];
