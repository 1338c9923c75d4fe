import { RE2JS } from 're2js';
for (const [p, s] of [['^[[:print:]]+$', 'abc'], ['^[[:print:]]+$', 'a\tb'], ['^((PT)?( *[0-9]+ *(?i:(ms|s|m)|(milli|sec|min)s?))+|0)$', '10 MS'], ['^[a-z0-9]([-a-z0-9]*[a-z0-9])?$','tazlab_admin'], ['^repo[1-4]', 'repo1x']]) {
  const re = RE2JS.compile(p); console.log(p, s, re.matcher(s).find(), re.test ? re.test(s) : '-');
}
let t = Date.now(); const re = RE2JS.compile('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'); for (let i=0;i<100000;i++) re.matcher('tazlab-admin'+(i%10)).find(); console.log('100k', Date.now()-t,'ms');
