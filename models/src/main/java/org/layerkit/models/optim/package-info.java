/** First-order optimizers (SGD, SGD with momentum, RMSProp, Adam) whose state lives on the parameters' backend. */
package org.layerkit.models.optim;
