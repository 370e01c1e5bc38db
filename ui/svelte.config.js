// Svelte compiles `<script lang="ts">` natively; no preprocessing is needed.
/** @type {import("@sveltejs/vite-plugin-svelte").SvelteConfig} */
export default {
  compilerOptions: {
    runes: true,
  },
};
