/** The wallet part of the SDK (isomorphic). */
export { newReplyKeyPair, openSealedShare, shareBytes, type ReplyKeyPair } from './open-share.js';
export {
  combineShares,
  deriveAccounts,
  exportMnemonic,
  verifyAccounts,
  verifyWalletResponse,
  type CreationResponse,
  type SignedAccountsView,
} from './shares.js';
export {
  encryptWalletShare,
  type WalletShareRequest,
  type WalletShareOptions,
} from './encrypt-share.js';
export { WalletError, type WalletErrorCode } from '../../protocol/wallet/errors.js';
export type { Account } from '../../protocol/wallet/derive.js';
export type { OpenedShare, SealedShare } from '../../protocol/wallet/sealed-share.js';
export { computeBinds, type WalletAction } from '../../protocol/wallet/binds.js';
export {
  createWallet,
  listWallets,
  getWallet,
  addAccount,
  signWithShare,
  signWithEthereumMessage,
  signWithEthereumTypedData,
  signWithEthereumTransaction,
  signWithSolanaMessage,
  signWithSolanaTransaction,
  setPolicy,
  startRecovery,
  cancelRecovery,
  completeRecovery,
  reshare,
  deleteWallet,
  WalletApiError,
  type ClientShare,
  type SignResult,
  type WalletClientOptions,
  type WalletShares,
  type WalletView,
} from './http.js';
