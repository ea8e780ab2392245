/** Hidden marker in every comment this service writes: its own comments are never feedback. */
export const MARKER = '<!-- remediation-service';

/**
 * The hidden tag of a comment said once per `key` (`<!-- remediation-service:<key> -->`, an HTML
 * comment, invisible in rendered Markdown): a comment carrying it already there means it was said.
 */
export function commentTag(key: string): string {
  return `${MARKER}:${key} -->`;
}
