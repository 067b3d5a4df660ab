/**
 * Entra's control routes (/_emulator/…): a test or the demo plays the person
 * in the browser (device login page, complete or deny a code, the browser's
 * signed-in user) and the admin in the portal (revoke sessions, app
 * certificates, lifetimes). They call the helpers tests import directly.
 */
import { json, parseJsonBody, route, type Route } from '../http.js';
import { signInBrowser } from './authorize.js';
import { completeDeviceCode, deviceLoginPage, pendingDeviceCodes } from './device-code.js';
import { registerAppCertificate, revokeUserTokens } from './directory.js';
import { controlFailure, EmulatorInputError } from './errors.js';
import { escapeHtml, formOf, htmlPage } from './html.js';
import { configureEntra } from './settings.js';
import type { EntraSettings } from './state.js';

export function entraControlRoutes(): Route[] {
  return [
    route('control', 'GET', /^\/_emulator\/devicelogin$/, (_req, emu) => deviceLoginPage(emu.world)),
    route('control', 'POST', /^\/_emulator\/devicelogin$/, (req, emu) => {
      const form = formOf(req);
      try {
        const grant = completeDeviceCode(emu.world, form.get('code') ?? '', form.get('user') ?? '', {
          deny: form.get('action') === 'deny',
        });
        return htmlPage(
          200,
          grant.denied ? 'Sign-in cancelled' : 'You are signed in',
          '<p>You can close this window and return to the command line.</p>',
        );
      } catch (error) {
        if (error instanceof EmulatorInputError)
          return deviceLoginPage(emu.world, `<p><strong>${escapeHtml(error.message)}</strong></p>`);
        throw error;
      }
    }),
    route('control', 'POST', /^\/_emulator\/devicecode\/complete$/, (req, emu) => {
      const body = parseJsonBody<{ userCode?: string; user?: string; deny?: boolean }>(req) ?? {};
      if (!body.userCode || !body.user)
        return json(400, { error: 'bad_request', message: 'give "userCode" and "user" (UPN or object id)' });
      try {
        const grant = completeDeviceCode(emu.world, body.userCode, body.user, { deny: body.deny === true });
        return json(200, {
          userCode: grant.userCode,
          status: grant.denied ? 'denied' : 'completed',
          userId: grant.completedByUserId,
        });
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'GET', /^\/_emulator\/devicecodes$/, (_req, emu) =>
      json(200, { pending: pendingDeviceCodes(emu.world) }),
    ),
    route('control', 'POST', /^\/_emulator\/tokens\/revoke$/, (req, emu) => {
      const body = parseJsonBody<{ user?: string; accessTokens?: boolean }>(req) ?? {};
      if (!body.user) return json(400, { error: 'bad_request', message: 'give "user" (UPN or object id)' });
      try {
        return json(200, revokeUserTokens(emu.world, body.user, { accessTokens: body.accessTokens === true }));
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'POST', /^\/_emulator\/browser\/signin$/, (req, emu) => {
      const body = parseJsonBody<{ user?: string | null }>(req) ?? {};
      try {
        signInBrowser(emu.world, body.user ?? null);
        return json(200, { user: emu.world.entra.browserUserId });
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'POST', /^\/_emulator\/apps\/(?<appId>[^/]+)\/certificates$/, (req, emu) => {
      const body = parseJsonBody<{ certificatePem?: string }>(req) ?? {};
      if (!body.certificatePem) return json(400, { error: 'bad_request', message: 'give "certificatePem"' });
      try {
        return json(201, registerAppCertificate(emu.world, req.params.appId!, body.certificatePem));
      } catch (error) {
        return controlFailure(error);
      }
    }),
    route('control', 'GET', /^\/_emulator\/entra\/settings$/, (_req, emu) => json(200, emu.world.entra.settings)),
    route('control', 'POST', /^\/_emulator\/entra\/settings$/, (req, emu) => {
      try {
        return json(200, configureEntra(emu.world, parseJsonBody<Partial<EntraSettings>>(req) ?? {}));
      } catch (error) {
        return controlFailure(error);
      }
    }),
  ];
}
