//! Generates realistic VPC environments, their flow logs and inventory, with the truth.
