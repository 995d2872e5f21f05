package org.layerkit.api;

/** Whether a layer or kernel runs with training behaviour (batch statistics, dropout) or inference behaviour. */
public enum Mode {
    TRAIN,
    EVAL
}
