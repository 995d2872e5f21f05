/** The ONNX standard's protobuf messages (generated at build time from {@code src/main/proto/onnx.proto}). */
package org.layerkit.onnx.proto;
