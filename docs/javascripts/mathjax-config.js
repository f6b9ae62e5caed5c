// MathJax 2, served from the site itself: the math written by pymdownx.arithmatex.
window.MathJax = {
  config: ["TeX-AMS-MML_HTMLorMML-full.js"],
  tex2jax: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    ignoreClass: ".*",
    processClass: "arithmatex",
  },
  "HTML-CSS": { availableFonts: ["STIX"], preferredFont: "STIX", webFont: "STIX-Web", imageFont: null },
  showMathMenu: false,
  messageStyle: "none",
};
