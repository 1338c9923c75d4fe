import {Environment} from '@marcbachmann/cel-js'
const env = new Environment({unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false})
try { env.registerFunction('string.trim(): string', s => s.trim()) } catch(e) { console.log('reg', e.message) }
for (const [r, ctx] of [
 ['!has(self.ssl) && !self.exists(k, k.startsWith("ssl_"))', {self: {ssl_x: 1n}}],
 ['has(self.resources.requests.storage)', {self: {resources: {requests: {}}}}],
 ['0 < size(self.accessModes)', {self: {accessModes: []}}],
 ['!self.matches("(?i:PASSWORD)")', {self: 'password'}],
 ['!self.trim().startsWith("include")', {self: ' include x'}],
 ['duration("1h") <= self && self <= duration("8760h")', {self: '2h'}],
 ['self.name != "a"', {self: {name: 'a'}}],
]) { try { const p = env.parse(r); console.log(r, '=>', p(ctx)) } catch (e) { console.log(r, 'ERR', e.constructor.name, e.message.split('\n')[0]) } }
