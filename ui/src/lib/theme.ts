import type { Theme } from "../bindings/Theme";

export const THEMES: { value: Theme; label: string }[] = [
  { value: "system", label: "Same as the system" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

/** Applies a theme through `data-theme` on <html>; the stylesheet maps `system` to
 * `prefers-color-scheme`. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = theme;
}
