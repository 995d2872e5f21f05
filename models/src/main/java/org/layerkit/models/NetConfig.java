package org.layerkit.models;

/**
 * Anything that describes a {@link SequentialNet}: the generic {@link NetSpec} itself, or a configuration that builds
 * one — {@link FullyConnectedNetConfig} (the MLP) and {@link ConvNetConfig} (the CNN and its presets). The net, the
 * solver, checkpoints and evaluation only ever see the {@link NetSpec}.
 */
public interface NetConfig {
    /** The ordered layers this configuration stands for, with every layer's settings resolved. */
    NetSpec spec();
}
