package gatewayapi

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The Gateway API kinds privgate reads.
var (
	Gateway      = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "Gateway"}
	GatewayClass = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "GatewayClass"}
	HTTPRoute    = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "HTTPRoute"}
	GRPCRoute    = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "GRPCRoute"}
	TLSRoute     = schema.GroupKind{Group: gatewayv1.GroupName, Kind: "TLSRoute"}
)
