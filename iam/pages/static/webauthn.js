// WebAuthn ceremonies for the login and account pages (loaded as a file: the CSP forbids inline
// script). Buttons carry their endpoints in data-* attributes; the CSRF token is in a meta tag.
(function () {
  "use strict";

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const padded = b64 + "===".slice((b64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let text = "";
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function showError(message) {
    const box = document.getElementById("form-error");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || "The request failed.");
    return data;
  }

  async function register(button) {
    const options = await post(button.dataset.optionsUrl);
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const credential = await navigator.credentials.create({ publicKey: options });
    const label = document.getElementById("key-label");
    const result = await post(button.dataset.verifyUrl, {
      label: label ? label.value : "",
      next: button.dataset.next,
      credential: {
        id: credential.id,
        rawId: toB64url(credential.rawId),
        type: credential.type,
        response: {
          clientDataJSON: toB64url(credential.response.clientDataJSON),
          attestationObject: toB64url(credential.response.attestationObject),
          transports: credential.response.getTransports ? credential.response.getTransports() : [],
        },
        clientExtensionResults: credential.getClientExtensionResults(),
      },
    });
    window.location.assign(result.redirect || "/account");
  }

  async function authenticate(button) {
    const options = await post(button.dataset.optionsUrl);
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach((c) => { c.id = toBytes(c.id); });
    const assertion = await navigator.credentials.get({ publicKey: options });
    const result = await post(button.dataset.verifyUrl, {
      next: button.dataset.next,
      credential: {
        id: assertion.id,
        rawId: toB64url(assertion.rawId),
        type: assertion.type,
        response: {
          clientDataJSON: toB64url(assertion.response.clientDataJSON),
          authenticatorData: toB64url(assertion.response.authenticatorData),
          signature: toB64url(assertion.response.signature),
          userHandle: assertion.response.userHandle ? toB64url(assertion.response.userHandle) : null,
        },
        clientExtensionResults: assertion.getClientExtensionResults(),
      },
    });
    window.location.assign(result.redirect || "/account");
  }

  function wire(id, ceremony) {
    const button = document.getElementById(id);
    if (!button || !window.PublicKeyCredential) return;
    button.addEventListener("click", () => {
      button.disabled = true;
      ceremony(button)
        .catch((error) => showError(error.message || "The security key did not respond."))
        .finally(() => { button.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (window.PublicKeyCredential) {
      document.querySelectorAll(".js-only").forEach((el) => el.classList.remove("js-only"));
    }
    wire("webauthn-register", register);
    wire("webauthn-login", authenticate);
  });
})();
