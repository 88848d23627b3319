// Records every script error, failed resource and CSP violation from the first byte
// on, for the page's self-test (#selftest). Evidence text never reaches this script.
window.__chainlineErrors = [];
window.addEventListener('error', function (e) {
  var what = e.message ? 'error: ' + e.message : 'resource error: ' + (e.target && e.target.tagName);
  window.__chainlineErrors.push(what);
}, true);
document.addEventListener('securitypolicyviolation', function (e) {
  window.__chainlineErrors.push('csp: ' + e.violatedDirective + ' ' + (e.blockedURI || ''));
});
(function () {
  var original = console.error;
  console.error = function () {
    window.__chainlineErrors.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
    return original.apply(console, arguments);
  };
})();
