// Web IM through the ICAP door: conf/webim.yaml says which HTTP requests are
// IM and where their text, peer, account and files are; the inspector reads
// those bodies and answers allow / block / modify.
export { WebImCatalog, parseWebIm, loadWebImFile, resolveWebImPath, embeddedWebImPath, compilePathPattern, type Endpoint, type EndpointMatch, type ErrorShape } from './catalog';
export { WebImInspector, splice, type WebImDeps } from './inspect';
export { webBlockResponse, type WebBlockInfo } from './block';
export { extractFields, matchJsonPath, type Extraction, type FoundMessage, type FoundFile, type Span } from './extract';
export { extractBosh } from './bosh';
export { scanJson, jsonLiteral, type JsonLeaf } from './json-scan';
export { scanForm, formDecode, formEncode, type FormField } from './form';
export { scanMultipart, multipartBoundary, type Part } from './multipart';
export { decodeBody, encodeBody, codingOf } from './decode';
export { readBounded } from './read-body';
export { WebBodyError, type BodyFault } from './errors';
