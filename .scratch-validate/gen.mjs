import { generateCoreBundle } from '../dist/src/validate/schema/core-gen.js';
const t = Date.now(); const b = generateCoreBundle(); console.log(Date.now()-t, 'ms', b.origin, b.hash, Object.keys(b.defs).length, b.kinds.length, JSON.stringify(b).length);
const f = (k) => b.kinds.find(x => x.kind === k);
for (const k of ['Deployment','Service','Namespace','StorageClass','Secret','Ingress','CustomResourceDefinition','Event','ConfigMap']) console.log(JSON.stringify(b.kinds.filter(x=>x.kind===k).map(x=>[x.group,x.version,x.plural,x.namespaced,x.root.ref])));
console.log(JSON.stringify(b.defs.V1ResourceRequirements), JSON.stringify(b.defs.V1DeploymentSpec), JSON.stringify(b.defs.V1Secret.props.data));
