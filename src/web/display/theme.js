/**
 * The colour scheme toggle: auto (follows prefers-color-scheme), day, dark,
 * and night (red on black, for night vision). Kept in localStorage.
 */
const MODES = ['auto', 'day', 'dark', 'night']
const ICONS = { auto: '◐', day: '☀', dark: '☾', night: '●' }
const KEY = 'keelson.theme'

function stored() {
  try {
    const mode = localStorage.getItem(KEY)
    return MODES.includes(mode) ? mode : 'auto'
  } catch {
    return 'auto'
  }
}

function apply(button, mode) {
  document.documentElement.dataset.theme = mode
  button.textContent = `${ICONS[mode]} ${mode}`
}

/** Wires `button` to cycle the modes. */
export function setUpTheme(button) {
  let mode = stored()
  apply(button, mode)
  button.addEventListener('click', () => {
    mode = MODES[(MODES.indexOf(mode) + 1) % MODES.length]
    apply(button, mode)
    try {
      localStorage.setItem(KEY, mode)
    } catch {
      // Private browsing: the choice lasts for this page only.
    }
  })
}
